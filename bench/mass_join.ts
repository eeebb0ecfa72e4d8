/**
 * A mass join in the simulator: n members start `--spacing` ms apart, all through the first,
 * with the cluster benchmark's timing (§2 of docs/performance.md). Prints datagrams and bytes
 * sent while joining, time to converge, and false suspicions — the cost of the join storm.
 *
 *   deno run -A bench/mass_join.ts [--sizes 100,200,400] [--spacing 5] [--streams]
 *
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { createMemberlistCodec, resolveConfig } from "../mod.ts";
import { Simulator } from "../src/sim/mod.ts";
import { TIMING } from "./cluster/timing.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    sizes: { type: "string", default: "100,200,400" },
    spacing: { type: "string", default: "5" },
    seed: { type: "string", default: "1" },
    streams: { type: "boolean", default: false },
  },
});

const config = resolveConfig("lan", {
  probeInterval: TIMING.probeIntervalMs,
  probeTimeout: TIMING.probeTimeoutMs,
  indirectChecks: TIMING.indirectChecks,
  suspicionMult: TIMING.suspicionMult,
  gossipInterval: TIMING.gossipIntervalMs,
  pushPullInterval: 0,
  reannounceInterval: 0,
});

console.log(
  "| n | datagrams per member | KB per member | converged after last start, ms | suspicions | wall, s |",
);
console.log("|---:|---:|---:|---:|---:|---:|");
for (const n of values.sizes.split(",").map(Number)) {
  const t0 = performance.now();
  const sim = new Simulator({
    seed: Number(values.seed),
    config,
    codec: createMemberlistCodec({ compress: true }),
    streams: values.streams,
  });
  for (let i = 0; i < n; i++) {
    sim.addNode(`n${i}`);
    sim.runFor(Number(values.spacing));
  }
  const start = sim.clock.now();
  const ok = sim.runUntil(() => sim.converged(), 60_000, 10);
  const convergedMs = ok ? sim.clock.now() - start : NaN;
  let packets = 0, bytes = 0;
  for (const node of sim.nodes) {
    packets += sim.transportStats(node.name).packetsOut;
    bytes += sim.transportStats(node.name).bytesOut;
  }
  let missing = 0;
  for (const node of sim.nodes) {
    const seen = node.swim.members().filter((m) => m.state === "alive").length;
    missing += n - seen;
    if (!ok && n - seen > 0) {
      const have = new Set(
        node.swim.members().filter((m) => m.state === "alive").map((m) => m.name),
      );
      console.error(
        node.name,
        "misses",
        sim.nodes.filter((o) => !have.has(o.name)).map((o) => o.name).join(","),
      );
    }
  }
  if (!ok) console.error(`n=${n}: ${missing} pairs missing`);
  const suspicions = sim.events.filter((e) => e.type === "suspect").length;
  console.log(
    `| ${n} | ${(packets / n).toFixed(0)} | ${(bytes / n / 1024).toFixed(1)} | ${
      convergedMs.toFixed(0)
    } | ${suspicions} | ${((performance.now() - t0) / 1000).toFixed(1)} |`,
  );
}
