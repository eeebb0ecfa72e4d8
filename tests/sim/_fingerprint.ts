/**
 * Simulator fingerprints: a few deterministic scenarios (join, loss, partition, restart,
 * leave, metadata, broadcasts; datagrams only and with streams), each reduced to a SHA-256 of
 * everything observable — the event log, settled announcements, user messages and every
 * node's datagram counters. A refactoring that changes no behaviour leaves them unchanged.
 *
 *   deno run -A tests/sim/_fingerprint.ts   # prints the table fingerprint.test.ts asserts
 *
 * @module
 */
import { createHash } from "node:crypto";
import { resolveConfig } from "../../src/core/config.ts";
import { Simulator } from "../../src/sim/simulator.ts";
import { createMemberlistCodec, memberlistCodec } from "../../src/wire/codec.ts";

/** One scenario's name and fingerprint. */
export interface Fingerprint {
  readonly scenario: string;
  readonly hash: string;
}

function digest(sim: Simulator): string {
  const h = createHash("sha256");
  for (const e of sim.events) {
    h.update(`${e.at}|${e.observer}|${e.type}|${e.member}|${e.incarnation}\n`);
  }
  for (const n of sim.nodes) {
    const s = sim.transportStats(n.name);
    h.update(`${n.name}|${n.settled.join(",")}|${n.userMessages.length}|`);
    h.update(`${s.packetsOut}|${s.bytesOut}|${s.packetsIn}|${s.bytesIn}\n`);
    for (const m of n.swim.members()) h.update(`${m.name}:${m.state}:${m.incarnation};`);
    h.update("\n");
  }
  return h.digest("hex").slice(0, 16);
}

function scenario(seed: number, streams: boolean, n: number, damped = false): Simulator {
  // The protocol's fingerprint: events undamped, as every event is what is compared. One
  // scenario keeps the default flap damping, which holds some of those events back.
  const config = resolveConfig("lan", damped ? {} : { flapDamping: null });
  const sim = new Simulator({
    seed,
    config,
    codec: seed % 2 ? memberlistCodec : createMemberlistCodec({ compress: true }),
    faults: { minDelay: 1, maxDelay: 10, loss: 0.02 },
    streams,
  });
  sim.addNodes(n);
  sim.runFor(15_000);
  sim.updateMeta("n3", new TextEncoder().encode("role=x"));
  sim.node("n4").swim.broadcast(new Uint8Array([1, 2, 3]));
  sim.runFor(5_000);
  sim.network.setFaults({ loss: 0.2 });
  sim.kill("n5");
  sim.runFor(20_000);
  sim.network.setFaults({ loss: 0.02 });
  sim.leave("n6");
  sim.runFor(5_000);
  sim.restart("n5");
  const hosts = sim.nodes.map((x) => x.address.host);
  sim.network.partition(hosts.slice(0, 4), hosts.slice(4));
  sim.runFor(15_000);
  sim.network.heal();
  sim.setSlow("n7", 3000);
  sim.runFor(20_000);
  sim.setSlow("n7", 0);
  sim.runFor(10_000);
  return sim;
}

/**
 * A larger converged cluster under loss: a kill, a join, a leave and a metadata update, long
 * enough for the death to be declared and the joiner to be known by all.
 */
function large(seed: number, streams: boolean, n: number): Simulator {
  const config = resolveConfig("lan", {});
  const sim = new Simulator({
    seed,
    config,
    codec: memberlistCodec,
    faults: { minDelay: 1, maxDelay: 10, loss: 0.03 },
    streams,
  });
  sim.addConverged(n);
  sim.runFor(5_000);
  sim.kill("n7");
  sim.addNode("joiner");
  sim.runFor(10_000);
  sim.updateMeta("n11", new TextEncoder().encode("role=y"));
  sim.leave("n13");
  sim.runFor(15_000);
  sim.restart("n7");
  sim.runFor(10_000);
  return sim;
}

/**
 * A small converged cluster for long enough that every member walks its probe ring several
 * times (reshuffles, reaping the dead), with a kill and a late join.
 */
function long(seed: number, n: number): Simulator {
  const sim = new Simulator({
    seed,
    config: resolveConfig("lan", {}),
    codec: memberlistCodec,
    faults: { minDelay: 1, maxDelay: 10, loss: 0.01 },
  });
  sim.addConverged(n);
  sim.runFor(50_000);
  sim.kill("n3");
  sim.runFor(60_000);
  sim.addNode("late");
  sim.runFor(100_000);
  return sim;
}

/** Every scenario's fingerprint. */
export function fingerprints(): Fingerprint[] {
  const out: Fingerprint[] = [];
  for (
    const [seed, streams, n] of [[1, false, 12], [2, true, 12], [3, false, 30], [
      4,
      true,
      30,
    ]] as const
  ) {
    out.push({
      scenario: `seed ${seed}, ${n} members, streams ${streams}`,
      hash: digest(scenario(seed, streams, n)),
    });
  }
  out.push({
    scenario: "seed 4, 30 members, streams true, flap damping",
    hash: digest(scenario(4, true, 30, true)),
  });
  for (const [seed, streams, n] of [[5, false, 300], [6, true, 200]] as const) {
    out.push({
      scenario: `seed ${seed}, converged ${n}, streams ${streams}`,
      hash: digest(large(seed, streams, n)),
    });
  }
  out.push({ scenario: "seed 7, converged 80, 210 s", hash: digest(long(7, 80)) });
  return out;
}

if (import.meta.main) {
  for (const f of fingerprints()) console.log(JSON.stringify(f) + ",");
}
