/**
 * kill → dead-at-all-others time, Go-only (20 Go nodes) vs mixed (10 Go + 10 shoal), with
 * probe 200 ms / timeout 100 ms. Prints medians over --runs runs (default 3).
 *
 *   bash tests/interop/build_peer.sh && deno run -A bench/interop_detection.ts
 */
import { parseArgs } from "node:util";
import { createNode, type ShoalNode } from "../mod.ts";
import { GoPeer, goPeerBinary, sleep, stopAllGoPeers } from "../tests/interop/go_peer.ts";

const { values } = parseArgs({ options: { runs: { type: "string", default: "3" } } });
const TIMING = {
  probeInterval: 200,
  probeTimeout: 100,
  gossipInterval: 50,
  suspicionMult: 4,
  pushPullInterval: 5000,
};
const { path } = await goPeerBinary();
if (!path) throw new Error("Go peer not available");

async function run(goCount: number, shoalCount: number, killShoal: boolean): Promise<number> {
  const gos: GoPeer[] = [await GoPeer.start(path!, { name: "g0", preset: "local", ...TIMING })];
  const seed = gos[0].hostPort;
  for (let i = 1; i < goCount; i++) {
    gos.push(
      await GoPeer.start(path!, { name: `g${i}`, join: [seed], preset: "local", ...TIMING }),
    );
  }
  const shoals: ShoalNode[] = [];
  for (let i = 0; i < shoalCount; i++) {
    shoals.push(
      await createNode({ name: `s${i}`, bind: "127.0.0.1:0", seeds: [seed], config: TIMING }),
    );
  }
  const n = goCount + shoalCount;
  for (;;) {
    const views = await Promise.all(
      gos.map(async (g) => (await g.members()).filter((m) => m.state === "alive").length),
    );
    if (views.every((v) => v === n) && shoals.every((s) => s.members("alive").length === n)) break;
    await sleep(100);
  }
  await sleep(2000);
  let victim: string;
  if (killShoal) {
    victim = shoals[0].name;
    await shoals[0].close();
  } else {
    victim = gos[1].name;
    await gos[1].kill();
  }
  const t0 = performance.now();
  const goOthers = gos.filter((g) => g.running);
  const shoalOthers = shoals.filter((s) => !s.closed);
  for (;;) {
    let all = shoalOthers.every((s) => s.member(victim)?.state === "dead");
    if (all) {
      for (const g of goOthers) {
        if ((await g.members()).find((m) => m.name === victim)?.state !== "dead") {
          all = false;
          break;
        }
      }
    }
    if (all) break;
    await sleep(20);
  }
  const ms = performance.now() - t0;
  await Promise.all(shoals.map((s) => s.close()));
  await stopAllGoPeers();
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const runs = Number(values.runs);
const rows: [string, number[]][] = [
  ["Go only (20 Go), kill a Go node", []],
  ["mixed (10 Go + 10 shoal), kill a Go node", []],
  ["mixed (10 Go + 10 shoal), kill a shoal node", []],
];
for (let r = 0; r < runs; r++) {
  rows[0][1].push(await run(20, 0, false));
  rows[1][1].push(await run(10, 10, false));
  rows[2][1].push(await run(10, 10, true));
}
console.log("| cluster | kill → dead at all others, median ms (runs) |\n|---|---|");
for (const [name, xs] of rows) {
  console.log(`| ${name} | ${median(xs).toFixed(0)} (${xs.map((x) => x.toFixed(0)).join(", ")}) |`);
}
