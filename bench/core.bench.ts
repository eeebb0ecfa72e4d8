/**
 * Core step benchmarks: one packet and one tick of the state machine with 10, 1,000 and
 * 10,000 members known, the broadcast queue, and a small simulation.
 * `deno bench -A bench/core.bench.ts` (or `deno task bench`); the same cases run under Deno
 * and Bun with `bench/mitata.ts`.
 */
import { lanConfig } from "../src/core/config.ts";
import { Simulator } from "../src/sim/simulator.ts";
import { memberlistCodec } from "../src/wire/codec.ts";
import { coreCases, denoBench, queueCases } from "./cases.ts";

denoBench([...coreCases(), ...queueCases()]);

Deno.bench("simulator: 20 nodes join, then 10 s virtual", { group: "sim", n: 20 }, () => {
  const sim = new Simulator({ seed: 1, config: lanConfig, codec: memberlistCodec });
  sim.addNodes(20);
  sim.runFor(10_000);
});
