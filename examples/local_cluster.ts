/**
 * A small live cluster on loopback: five members in this process, one of which is killed
 * (no goodbye) so you can watch the others suspect it and declare it dead, then one leaves
 * gracefully. Ends by itself after about 15 seconds.
 *
 *   deno run -A examples/local_cluster.ts      (or: bun examples/local_cluster.ts)
 */
import { createNode, type MembershipEvent, type ShoalNode } from "../mod.ts";

const fast = { probeInterval: 500, probeTimeout: 200, gossipInterval: 100, suspicionMult: 3 };
const t0 = performance.now();
const stamp = () => `${((performance.now() - t0) / 1000).toFixed(2).padStart(6)}s`;

const nodes: ShoalNode[] = [];
for (let i = 0; i < 5; i++) {
  const seeds = nodes.length ? [`127.0.0.1:${nodes[0].address.port}`] : [];
  const node = await createNode({
    name: `node-${i}`,
    bind: "127.0.0.1:0",
    seeds,
    config: fast,
    meta: new TextEncoder().encode(`role=${i === 0 ? "seed" : "worker"}`),
  });
  nodes.push(node);
}
console.log(`${stamp()} started ${nodes.map((n) => `${n.name}@${n.address.port}`).join(" ")}`);

// Watch from node-0's point of view.
const watcher = nodes[0];
const seen = (async () => {
  for await (const ev of watcher.events()) report(ev);
})();
function report(ev: MembershipEvent): void {
  const m = ev.member;
  console.log(
    `${stamp()} [${watcher.name} sees] ${
      ev.type.padEnd(7)
    } ${m.name} (incarnation ${m.incarnation})`,
  );
}

const table = () => watcher.members().map((m) => `${m.name}:${m.state}`).sort().join("  ");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

await sleep(2000);
console.log(`${stamp()} view: ${table()}`);

console.log(`${stamp()} killing node-3 (closing its socket without leaving)...`);
await nodes[3].close();
const killedAt = performance.now();
while (watcher.member("node-3")?.state !== "dead" && performance.now() - killedAt < 10_000) {
  await sleep(50);
}
console.log(
  `${stamp()} node-3 declared dead ${
    ((performance.now() - killedAt) / 1000).toFixed(2)
  }s after the kill`,
);

console.log(`${stamp()} node-4 leaves gracefully...`);
await nodes[4].leave();
await nodes[4].close();
await sleep(1000);
console.log(`${stamp()} view: ${table()}`);

await Promise.all(nodes.map((n) => n.close()));
await seen;
console.log(`${stamp()} done`);
