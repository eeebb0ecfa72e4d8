/**
 * One process holding n shoal nodes at the cluster benchmark's fast timing, watched every 2 s:
 * what an overloaded process does to the protocol. Per interval it prints the event-loop lag,
 * the mean health score, the smallest view, dead and suspect events, probes against direct
 * acks, datagrams sent against read, and the kernel's UDP receive-buffer drops
 * (/proc/net/snmp `RcvbufErrors`, the whole machine).
 *
 *   deno run -A bench/overload.ts [--nodes 200] [--intervals 10]
 *   bun bench/overload.ts --nodes 200
 *
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import process from "node:process";
import { parseArgs } from "node:util";
import { createNode, runtimeName, type ShoalNode } from "../mod.ts";
import { SHOAL_FAST } from "./cluster/timing.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    nodes: { type: "string", default: "200" },
    intervals: { type: "string", default: "10" },
  },
});
const n = Number(values.nodes);
const intervals = Math.min(600, Number(values.intervals));
const config = SHOAL_FAST;

/** The kernel's UDP receive-buffer drops so far (Linux), or undefined. */
function rcvbufErrors(): number | undefined {
  if (!existsSync("/proc/net/snmp")) return undefined;
  const lines = readFileSync("/proc/net/snmp", "utf8").split("\n").filter((l) =>
    l.startsWith("Udp:")
  );
  if (lines.length < 2) return undefined;
  const keys = lines[0].split(/\s+/), vals = lines[1].split(/\s+/);
  const i = keys.indexOf("RcvbufErrors");
  return i < 0 ? undefined : Number(vals[i]);
}

let lagMax = 0, last = performance.now();
const lagTimer = setInterval(() => {
  const t = performance.now();
  lagMax = Math.max(lagMax, t - last - 10);
  last = t;
}, 10);
const nodes: ShoalNode[] = [];
let dead = 0, suspect = 0;
const t0 = performance.now();
for (let i = 0; i < n; i++) {
  const seeds = i === 0 ? [] : [`127.0.0.1:${nodes[0].address.port}`];
  const node = await createNode({ name: `o${i}`, bind: "127.0.0.1:0", seeds, config });
  node.onEvent((e) => {
    if (e.type === "dead") dead++;
    else if (e.type === "suspect") suspect++;
  });
  nodes.push(node);
}
console.log(
  `${n} nodes on ${runtimeName()} started in ${(performance.now() - t0).toFixed(0)} ms; ` +
    `probe ${config.probeInterval} ms, timeout ${config.probeTimeout} ms, gossip ${config.gossipInterval} ms\n`,
);
console.log(
  "| t, s | loop lag, ms (most) | health score (mean) | smallest view | dead events | suspect events | probes | direct acks | inconclusive | datagrams sent | read | kernel drops |",
);
console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
const totals = () => {
  const s = { probes: 0, acks: 0, inconclusive: 0, sent: 0, read: 0 };
  for (const x of nodes) {
    const st = x.stats();
    s.probes += st.core.probes;
    s.acks += st.core.acksReceived;
    s.inconclusive += st.core.probesInconclusive;
    s.sent += st.transport.packetsOut;
    s.read += st.transport.packetsIn;
  }
  return s;
};
let prev = totals(), prevDrops = rcvbufErrors();
for (let k = 0; k < intervals; k++) {
  await new Promise((r) => setTimeout(r, 2000));
  const now = totals(), drops = rcvbufErrors();
  const score = nodes.reduce((a, x) => a + x.healthScore, 0) / n;
  const view = Math.min(...nodes.map((x) => x.members("alive", "suspect").length));
  const d = (key: keyof typeof now) => now[key] - prev[key];
  console.log(
    `| ${((performance.now() - t0) / 1000).toFixed(0)} | ${lagMax.toFixed(0)} | ${
      score.toFixed(1)
    } | ${view} | ${dead} | ${suspect} | ${d("probes")} | ${d("acks")} | ${d("inconclusive")} | ${
      d("sent")
    } | ${d("read")} | ${
      drops === undefined || prevDrops === undefined ? "—" : drops - prevDrops
    } |`,
  );
  prev = now;
  prevDrops = drops;
  lagMax = dead = suspect = 0;
}
clearInterval(lagTimer);
await Promise.all(nodes.map((x) => x.close()));
process.exit(0);
