/**
 * examples/edge_service: three instances in child processes, requests through one of them
 * while a member is killed and another joins (runEdgeDemo, what `deno task edge` runs), and
 * the service's /healthz in-process.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  expectedOwner,
  moves,
  runEdgeDemo,
  servers,
  tally,
} from "../../examples/edge_service/demo.ts";
import { startEdgeService } from "../../examples/edge_service/service.ts";

const runtime = "Bun" in globalThis ? "bun" : "deno";

test(`edge service under ${runtime}: requests reach owners through a kill and a join`, {
  timeout: 120_000,
}, async () => {
  const report = await runEdgeDemo({ keys: 300 });
  const phase = (label: string) => {
    const p = report.phases.find((x) => x.label === label);
    assert.ok(p, `no phase ${label}`);
    return p;
  };
  const atRest = ["3 members", "after kill", "after join"].map(phase);

  // At rest, every request is answered by the key's rendezvous owner, and the entry agrees.
  for (const p of atRest) {
    assert.equal(p.requests.length, 300);
    for (const r of p.requests) {
      assert.equal(r.status, 200, `${p.label}: ${r.key} answered ${r.status}`);
      const owner = expectedOwner(r.key, p.members);
      assert.equal(r.servedBy, owner, `${p.label}: ${r.key} served by ${r.servedBy}`);
      assert.equal(r.owner, owner);
      assert.equal(r.fallback, false);
    }
    // Every member of the phase gets a share.
    const t = tally(p);
    for (const m of p.members) assert.ok((t.byServer[m] ?? 0) > 30, `${p.label}: ${m} idle`);
  }

  // While the killed member is still counted: answered all the same (by the runner-up), with
  // failures, if any, only in a short window after the kill.
  const dying = phase("while edge-3 dies");
  assert.ok(dying.requests.length > 0);
  for (const r of dying.requests) {
    if (r.status === 200) {
      assert.notEqual(r.servedBy, "edge-3");
      continue;
    }
    assert.ok(
      r.at - report.killedAt < 3000,
      `${r.key} got ${r.status} ${r.at - report.killedAt} ms after the kill`,
    );
  }
  const failures = dying.requests.filter((r) => r.status !== 200).length;
  assert.ok(failures <= dying.requests.length / 10, `${failures} failed requests`);
  assert.ok(report.detectedAfterMs >= 0 && report.detectedAfterMs < 30_000);
  for (const r of phase("while edge-4 joins").requests) assert.equal(r.status, 200);

  // The killed member's keys, and only those, moved; to both survivors.
  const before = servers(phase("3 members"));
  const victimKeys = [...before].filter(([, s]) => s === "edge-3").length;
  assert.ok(victimKeys > 50, `edge-3 owned ${victimKeys} keys`);
  const killMoves = moves(phase("3 members"), phase("after kill"));
  assert.deepEqual(Object.keys(killMoves).sort(), ["edge-3 → edge-1", "edge-3 → edge-2"]);
  assert.equal(Object.values(killMoves).reduce((a, b) => a + b, 0), victimKeys);

  // The joiner takes a share, from both, and no key moves between the others.
  const joinMoves = moves(phase("after kill"), phase("after join"));
  assert.deepEqual(Object.keys(joinMoves).sort(), ["edge-1 → edge-4", "edge-2 → edge-4"]);
  const joinerKeys = tally(phase("after join")).byServer["edge-4"] ?? 0;
  assert.ok(joinerKeys > 60 && joinerKeys < 140, `edge-4 owns ${joinerKeys} of 300 keys`);

  // Health, graceful leave on SIGTERM, and exits by themselves with status 0.
  assert.equal(report.joinerHealth, 200);
  assert.equal(report.joinerStateAfterTerm, "left");
  assert.deepEqual(report.exitCodes, { "edge-4": 0, "edge-1": 0, "edge-2": 0 });
});

test(`edge service under ${runtime}: /healthz is 503 before joining and while leaving`, {
  timeout: 60_000,
}, async () => {
  const health = async (edge: { handle(r: Request): Promise<Response> }) => {
    const res = await edge.handle(new Request("http://127.0.0.1/healthz"));
    return { status: res.status, body: (await res.json() as { status: string }).status };
  };
  const a = await startEdgeService({ name: "hz-a", log: () => {} });
  let b: Awaited<ReturnType<typeof startEdgeService>> | undefined;
  let lonely: Awaited<ReturnType<typeof startEdgeService>> | undefined;
  try {
    // A seed that answers nothing (port 9, discard, on loopback): never joined.
    lonely = await startEdgeService({ name: "hz-lonely", seeds: ["127.0.0.1:9"], log: () => {} });
    assert.deepEqual(await health(lonely), { status: 503, body: "joining" });

    assert.deepEqual(await health(a), { status: 200, body: "ok" }); // first: nothing to join
    b = await startEdgeService({ name: "hz-b", seeds: [a.gossip], log: () => {} });
    const until = async (check: () => Promise<boolean> | boolean) => {
      const end = Date.now() + 10_000;
      for (let i = 0; i < 1000 && Date.now() < end && !await check(); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await until(async () => (await health(b!)).status === 200);
    assert.deepEqual(await health(b), { status: 200, body: "ok" });

    const leaving = b.shutdown();
    assert.deepEqual(await health(b), { status: 503, body: "leaving" });
    await leaving;
    await until(() => a.node.member("hz-b")?.state === "left");
    assert.equal(a.node.member("hz-b")?.state, "left");
  } finally {
    await b?.shutdown();
    await lonely?.shutdown();
    await a.shutdown();
  }
});
