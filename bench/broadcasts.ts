/**
 * Broadcast fairness (issue 12; memberlist's issue 299: user broadcasts starved behind
 * membership updates at about 1,000 nodes). In the simulator, per size and seed, n members
 * from a converged start (LAN timing, streams) run `broadcastsUnderChurn`
 * (src/sim/experiments.ts): a steady stream of metadata updates and crash-restarts keeps the
 * membership queues full while four members take turns issuing user broadcasts, which every
 * member relays once, as serf relays user events. The same broadcasts without churn are the
 * baseline. Prints, per run: how soon the first member and every member delivered each
 * broadcast, the share that reached everyone, how soon every member heard of each membership
 * update, and how full the gossip datagrams were. Virtual time: deterministic for a seed.
 *
 *   deno run -A bench/broadcasts.ts [--sizes 1000,2000] [--seeds 1] [--meta 8] [--restarts 12]
 *                                   [--rate 2] [--payload 64] [--duration 30000] [--no-baseline]
 *
 * `--rate 0` runs the churn alone. One seed at both sizes takes about 5 minutes on a 2-core
 * machine (2,000 members with churn: 2.5 minutes). Figures and reading: docs/performance.md §4,
 * "Broadcasts under churn".
 *
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { memberlistCodec } from "../mod.ts";
import { type BroadcastChurnResult, broadcastsUnderChurn, type Quantiles } from "../src/sim/mod.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    sizes: { type: "string", default: "1000,2000" },
    seeds: { type: "string", default: "1" },
    meta: { type: "string", default: "8" },
    restarts: { type: "string", default: "12" },
    rate: { type: "string", default: "2" },
    payload: { type: "string", default: "64" },
    duration: { type: "string", default: "30000" },
    "no-baseline": { type: "boolean", default: false },
  },
});

const churn = {
  metaPerSecond: Number(values.meta),
  metaBytes: 128,
  restartsPerMinute: Number(values.restarts),
  downtime: 10_000,
};
const common = {
  codec: memberlistCodec,
  broadcastsPerSecond: Number(values.rate),
  payloadBytes: Number(values.payload),
  duration: Number(values.duration),
};

const s = (ms: number) => Number.isFinite(ms) ? (ms / 1000).toFixed(2) : "never";
const q = (x: Quantiles) => `${s(x.p50)} / ${s(x.p95)} / ${s(x.max)}`;
const pct = (x: number) => `${(x * 100).toFixed(x < 1 && x > 0.995 ? 1 : 0)} %`;

console.log(
  `Broadcast fairness in the simulator: LAN timing (probe 1 s, gossip 200 ms), streams on; ` +
    `${common.broadcastsPerSecond} user broadcasts per second of ${common.payloadBytes} B for ` +
    `${common.duration / 1000} s, relayed once by every member; churn: ${churn.metaPerSecond} ` +
    `metadata updates (${churn.metaBytes} B) per second and ${churn.restartsPerMinute} ` +
    `crash-restarts (down ${churn.downtime / 1000} s) per minute. Delays p50 / p95 / max, s.\n`,
);
console.log(
  "| n | seed | churn | broadcasts reached all | first delivery | all delivered | " +
    "membership updates known by all | update known by all | gossip datagrams per member per s " +
    "| mean fill | ≥ 90 % full | user bytes | membership queue mean / max | wall, s |",
);
console.log("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
const row = (n: number, seed: number, label: string, r: BroadcastChurnResult, wall: number) =>
  console.log(
    `| ${n.toLocaleString("en")} | ${seed} | ${label} | ${
      r.broadcasts ? `${pct(r.reachedAll)} of ${r.broadcasts}` : "—"
    } | ${r.broadcasts ? q(r.firstMs) : "—"} | ${r.broadcasts ? q(r.allMs) : "—"} | ${
      r.updates ? `${pct(r.updatesReachedAll)} of ${r.updates}` : "—"
    } | ${r.updates ? q(r.updateAllMs) : "—"} | ${r.packets.perMemberPerSecond.toFixed(1)} | ${
      pct(r.packets.meanFill)
    } | ${pct(r.packets.fullShare)} | ${pct(r.packets.userShare)} | ${
      r.queueDepth.mean.toFixed(0)
    } / ${r.queueDepth.max} | ${wall.toFixed(0)} |`,
  );

const started = performance.now();
for (const n of values.sizes.split(",").map(Number)) {
  for (const seed of values.seeds.split(",").map(Number)) {
    let t = performance.now();
    row(n, seed, "on", broadcastsUnderChurn({ ...common, n, seed, churn }), elapsed(t));
    if (values["no-baseline"]) continue;
    t = performance.now();
    row(n, seed, "none", broadcastsUnderChurn({ ...common, n, seed, churn: false }), elapsed(t));
  }
}
console.log(`\nWall time: ${elapsed(started).toFixed(0)} s.`);

function elapsed(since: number): number {
  return (performance.now() - since) / 1000;
}
