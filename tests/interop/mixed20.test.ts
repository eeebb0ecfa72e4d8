/**
 * Issue 3's acceptance run: 10 Go + 10 shoal nodes on loopback with tight timings. Same view
 * everywhere within seconds; a killed node of either kind is declared dead by all 19 others.
 * The kill → all-dead times are printed (measured, not asserted; bench/interop_detection.ts
 * compares them with a Go-only cluster).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createNode, runtimeName, type ShoalNode } from "../../mod.ts";
import { GoPeer, goPeerBinary, sleep, stopAllGoPeers } from "./go_peer.ts";

const TIMING = {
  probeInterval: 200,
  probeTimeout: 100,
  gossipInterval: 50,
  suspicionMult: 4,
  pushPullInterval: 5000,
};
let binary: string | undefined;
let skip: string | undefined;
const shoals: ShoalNode[] = [];
before(async () => {
  const b = await goPeerBinary();
  [binary, skip] = [b.path, b.skip];
});
after(async () => {
  await Promise.all(shoals.map((n) => n.close()));
  await stopAllGoPeers();
});

test("10 Go + 10 shoal nodes: one view, and kills of either kind detected by all", {
  timeout: 180_000,
}, async (t) => {
  if (skip) return t.skip(skip);
  if (runtimeName() === "bun") return t.skip("run under Deno only (CI time)");
  const gos: GoPeer[] = [await GoPeer.start(binary!, { name: "go0", preset: "local", ...TIMING })];
  const seed = gos[0].hostPort;
  const started = Date.now();
  const starting: Promise<unknown>[] = [];
  for (let i = 1; i < 10; i++) {
    starting.push(
      GoPeer.start(binary!, { name: `go${i}`, join: [seed], preset: "local", ...TIMING }).then(
        (g) => gos.push(g),
      ),
    );
  }
  for (let i = 0; i < 10; i++) {
    shoals.push(
      await createNode({ name: `ts${i}`, bind: "127.0.0.1:0", seeds: [seed], config: TIMING }),
    );
  }
  await Promise.all(starting);
  const everyone = [...gos.map((g) => g.name), ...shoals.map((s) => s.name)].sort().join(",");
  const goView = async (g: GoPeer) =>
    (await g.members()).filter((m) => m.state === "alive").map((m) => m.name).sort().join(",");
  const sameView = async () =>
    shoals.every((s) => s.members("alive").map((m) => m.name).sort().join(",") === everyone) &&
    (await Promise.all(gos.map(goView))).every((v) => v === everyone);
  while (!(await sameView())) {
    assert.ok(Date.now() - started < 15_000, "no common view within 15 s");
    await sleep(100);
  }
  console.log(`20 nodes share one view ${Date.now() - started} ms after the first start`);

  const deadEverywhere = async (name: string, goOthers: GoPeer[], shoalOthers: ShoalNode[]) => {
    if (!shoalOthers.every((s) => s.member(name)?.state === "dead")) return false;
    for (const g of goOthers) {
      if ((await g.members()).find((m) => m.name === name)?.state !== "dead") return false;
    }
    return true;
  };
  // Kill a Go node.
  const victimGo = gos[3];
  await victimGo.kill();
  let t0 = Date.now();
  while (!(await deadEverywhere(victimGo.name, gos.filter((g) => g !== victimGo), shoals))) {
    assert.ok(Date.now() - t0 < 30_000, "the killed Go node was not declared dead by all 19");
    await sleep(50);
  }
  console.log(`Go node killed → dead at all 19 others: ${Date.now() - t0} ms`);
  // Kill a shoal node.
  const victim = shoals[4];
  await victim.close();
  t0 = Date.now();
  const liveGos = gos.filter((g) => g !== victimGo);
  while (!(await deadEverywhere(victim.name, liveGos, shoals.filter((s) => s !== victim)))) {
    assert.ok(Date.now() - t0 < 30_000, "the killed shoal node was not declared dead by all");
    await sleep(50);
  }
  console.log(`shoal node killed → dead at all 18 others: ${Date.now() - t0} ms`);
  // A Go node whose periodic push/pull picked the closed member before it was declared dead
  // logs the refused dial as ERR, as it would in a Go-only cluster: printed, not counted.
  const refused = new RegExp(`Push/Pull with ${victim.name} failed: .*connection refused`);
  for (const g of liveGos) {
    const problems = g.problems().filter((line) => {
      if (!refused.test(line)) return true;
      console.log(`${g.name}, about the closed member (not counted): ${line}`);
      return false;
    });
    assert.deepEqual(problems, [], `${g.name} logged problems`);
  }
});
