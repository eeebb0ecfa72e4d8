/**
 * shoal nodes and real Go memberlist 0.2.2 nodes in one cluster (issue 3's scenarios).
 * Every scenario also asserts that the Go nodes logged no ERR/WARN line, except the ones a
 * scenario provokes on purpose (an intruder with the wrong key).
 *
 * Deno runs every scenario; Bun the core ones (join both ways, failure detection).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createNode, runtimeName, type ShoalNode } from "../../mod.ts";
import { type GoPeer, GoPeer as Go, goPeerBinary, sleep, stopAllGoPeers } from "./go_peer.ts";

const FAST = {
  probeInterval: 200,
  probeTimeout: 100,
  gossipInterval: 50,
  suspicionMult: 4,
  pushPullInterval: 5000,
  tcpTimeout: 2000,
};
const GO_FAST = {
  probeInterval: 200,
  probeTimeout: 100,
  gossipInterval: 50,
  suspicionMult: 4,
  pushPullInterval: 5000,
  tcpTimeout: 2000,
};
const KEY = "MDEyMzQ1Njc4OWFiY2RlZg=="; // "0123456789abcdef"
const OTHER_KEY = "ZmVkY2JhOTg3NjU0MzIxMA=="; // "fedcba9876543210"
const LONG = { timeout: 120_000 };
const bun = runtimeName() === "bun";

let binary: string | undefined;
let skip: string | undefined;
const shoals: ShoalNode[] = [];
before(async () => {
  const b = await goPeerBinary();
  binary = b.path;
  skip = b.skip;
});
after(async () => {
  await Promise.all(shoals.map((n) => n.close()));
  await stopAllGoPeers();
});

async function shoal(
  name: string,
  seeds: string[],
  extra: { keys?: string[]; compress?: boolean } = {},
): Promise<ShoalNode> {
  const node = await createNode({
    name,
    bind: "127.0.0.1:0",
    seeds,
    config: FAST,
    keys: extra.keys,
    compress: extra.compress,
  });
  shoals.push(node);
  return node;
}

function go(
  name: string,
  join: string[],
  extra: { keys?: string[]; compress?: boolean; meta?: string } = {},
): Promise<GoPeer> {
  return Go.start(binary!, { name, join, preset: "local", ...GO_FAST, ...extra });
}

async function until(pred: () => boolean | Promise<boolean>, what: string, ms = 15_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return;
    await sleep(50);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

const aliveNames = (n: ShoalNode) => n.members("alive").map((m) => m.name).sort().join(",");
async function goAlive(g: GoPeer): Promise<string> {
  return (await g.members()).filter((m) => m.state === "alive").map((m) => m.name).sort().join(
    ",",
  );
}
const text = (b: Uint8Array | undefined) => new TextDecoder().decode(b);
function assertClean(peers: GoPeer[], allow: RegExp[] = []) {
  for (const p of peers) {
    const bad = p.problems().filter((l) => !allow.some((re) => re.test(l)));
    assert.deepEqual(bad, [], `${p.name} logged problems`);
  }
}

for (const compress of [true, false]) {
  describe(`interop with Go memberlist (compression ${compress ? "on" : "off"})`, LONG, () => {
    test("a shoal node joins a Go cluster; a Go node joins a shoal cluster", LONG, async (t) => {
      if (skip) return t.skip(skip);
      const g0 = await go(`g0-${compress}`, [], { compress });
      const g1 = await go(`g1-${compress}`, [g0.hostPort], { compress });
      const g2 = await go(`g2-${compress}`, [g0.hostPort], { compress });
      const s = await shoal(`s-${compress}`, [g1.hostPort], { compress });
      const names = [g0, g1, g2].map((g) => g.name).concat(s.name).sort().join(",");
      await until(() => aliveNames(s) === names, "the shoal node to see the Go cluster");
      for (const g of [g0, g1, g2]) {
        await until(async () => (await goAlive(g)) === names, `${g.name} to see the shoal node`);
      }

      const a = await shoal(`a-${compress}`, [], { compress });
      const b = await shoal(`b-${compress}`, [`127.0.0.1:${a.address.port}`], { compress });
      const c = await shoal(`c-${compress}`, [`127.0.0.1:${a.address.port}`], { compress });
      await until(() => [a, b, c].every((n) => n.members("alive").length === 3), "3 shoal");
      const g = await go(`gj-${compress}`, [`127.0.0.1:${b.address.port}`], { compress });
      const four = [a, b, c].map((n) => n.name).concat(g.name).sort().join(",");
      await until(() => [a, b, c].every((n) => aliveNames(n) === four), "shoal to see Go");
      await until(async () => (await goAlive(g)) === four, "Go to see the shoal cluster");
      assertClean([g0, g1, g2, g]);
    });

    test("failures are detected both ways", LONG, async (t) => {
      if (skip) return t.skip(skip);
      const g0 = await go(`fg0-${compress}`, [], { compress });
      const g1 = await go(`fg1-${compress}`, [g0.hostPort], { compress });
      const s0 = await shoal(`fs0-${compress}`, [g0.hostPort], { compress });
      const s1 = await shoal(`fs1-${compress}`, [g0.hostPort], { compress });
      await until(() => s0.members("alive").length === 4 && s1.members("alive").length === 4, "4");
      await until(async () => (await goAlive(g0)).split(",").length === 4, "Go sees 4");

      await g1.kill(); // a Go node crashes
      await until(
        () => [s0, s1].every((s) => s.member(g1.name)?.state === "dead"),
        "shoal nodes to declare the Go node dead",
      );
      await s1.close(); // a shoal node crashes
      await until(async () => {
        const m = (await g0.members()).find((x) => x.name === s1.name);
        return m?.state === "dead";
      }, "Go to declare the shoal node dead");
      assertClean([g0]);
    });

    test("leave, metadata, user messages and broadcasts, both ways", LONG, async (t) => {
      if (skip) return t.skip(skip);
      if (bun) return t.skip("Bun runs the core interop scenarios only");
      const g0 = await go(`mg0-${compress}`, [], { compress, meta: "go-meta" });
      const g1 = await go(`mg1-${compress}`, [g0.hostPort], { compress });
      const s0 = await shoal(`ms0-${compress}`, [g0.hostPort], { compress });
      const s1 = await shoal(`ms1-${compress}`, [g0.hostPort], { compress });
      await until(() => s0.members("alive").length === 4, "4 members");
      await until(async () => (await goAlive(g0)).split(",").length === 4, "Go sees 4");

      // Metadata both ways.
      assert.equal(text(s0.member(g0.name)?.meta), "go-meta");
      await s0.updateMeta(new TextEncoder().encode("role=web"));
      await until(async () => {
        const m = (await g0.members()).find((x) => x.name === s0.name);
        return m?.meta === "role=web";
      }, "Go to see shoal's new metadata");
      await g0.command("update-meta go-meta-2");
      await until(() => text(s1.member(g0.name)?.meta) === "go-meta-2", "shoal to see Go's");

      // User messages both ways, best effort and reliable.
      const got: string[] = [];
      s0.onMessage((m) => got.push(text(m.payload)));
      await g0.command(`send-best-effort ${s0.name} be-from-go`);
      await g0.command(`send-reliable ${s0.name} rel-from-go`);
      await until(() => got.includes("be-from-go") && got.includes("rel-from-go"), "Go → shoal");
      s0.send(g0.name, new TextEncoder().encode("be-from-shoal"));
      s0.send(g0.name, new TextEncoder().encode("rel-from-shoal"), { reliable: true });
      const goGot = () => g0.events.filter((e) => e.event === "user").map((e) => e.text);
      await until(
        () => goGot().includes("be-from-shoal") && goGot().includes("rel-from-shoal"),
        "shoal → Go",
      );
      // Broadcasts both ways. A broadcast is transmitted a bounded number of times to random
      // members (memberlist's delegate semantics), so one may miss a given member: retry a few.
      s1.onMessage((m) => got.push(text(m.payload)));
      for (let i = 0; i < 10 && !got.includes("bc-from-go"); i++) {
        await g0.command("broadcast bc-from-go");
        await until(() => got.includes("bc-from-go"), "a Go broadcast", 1000).catch(() => {});
      }
      assert.ok(got.includes("bc-from-go"), "a Go broadcast reached shoal");
      const goBroadcast = () =>
        [g0, g1].some((g) =>
          g.events.some((e) => e.event === "user" && e.text === "bc-from-shoal")
        );
      for (let i = 0; i < 10 && !goBroadcast(); i++) {
        s0.broadcast(new TextEncoder().encode("bc-from-shoal"));
        await until(goBroadcast, "a shoal broadcast", 1000).catch(() => {});
      }
      assert.ok(goBroadcast(), "a shoal broadcast reached Go");

      // Leave both ways: seen as left, not dead.
      await g1.command("leave");
      await until(() => s0.member(g1.name)?.state === "left", "shoal to see the Go node leave");
      await s1.leave();
      await until(async () => {
        const m = (await g0.members()).find((x) => x.name === s1.name);
        return m?.state === "left";
      }, "Go to see the shoal node leave");
      assertClean([g0, g1]);
    });
  });
}

describe("interop with a shared key", LONG, () => {
  test(
    "encrypted cluster works; wrong or missing keys are kept out and counted",
    LONG,
    async (t) => {
      if (skip) return t.skip(skip);
      if (bun) return t.skip("Bun runs the core interop scenarios only");
      const keys = [KEY];
      const g0 = await go("kg0", [], { keys });
      const s0 = await shoal("ks0", [g0.hostPort], { keys });
      const s1 = await shoal("ks1", [g0.hostPort], { keys });
      const g1 = await go("kg1", [`127.0.0.1:${s1.address.port}`], { keys });
      const all = ["kg0", "kg1", "ks0", "ks1"].join(",");
      await until(() => aliveNames(s0) === all && aliveNames(s1) === all, "4 with the key");
      await until(async () => (await goAlive(g0)) === all, "Go sees 4 with the key");
      // Failure detection and user messages still work encrypted.
      const got: string[] = [];
      s0.onMessage((m) => got.push(text(m.payload)));
      await g0.command(`send-reliable ks0 secret-hello`);
      await until(() => got.includes("secret-hello"), "an encrypted reliable message");

      // Intruders: a shoal node with the wrong key, one with none, and a Go node with the wrong key.
      const wrong = await shoal("intruder-wrong", [`127.0.0.1:${s0.address.port}`], {
        keys: [OTHER_KEY],
      });
      const none = await shoal("intruder-none", [`127.0.0.1:${s0.address.port}`]);
      const goWrong = await go("intruder-go", [g0.hostPort], { keys: [OTHER_KEY] });
      await sleep(3000);
      for (const n of [s0, s1]) assert.equal(aliveNames(n), all, `${n.name} let an intruder in`);
      // The intruders announced themselves to ks0: their datagrams and streams were rejected.
      const stats = s0.stats();
      assert.ok((stats.core.decodeErrors["decrypt-failed"] ?? 0) > 0, "datagrams rejected");
      assert.ok((stats.streams?.serveErrors ?? 0) > 0, "streams rejected");
      assert.equal(await goAlive(g0), all);
      assert.equal(aliveNames(wrong), "intruder-wrong");
      assert.equal(aliveNames(none), "intruder-none");
      assert.ok(goWrong.running);
      await g1.kill();
      await until(() => s0.member("kg1")?.state === "dead", "an encrypted failure detection");
      // Only the intruders' traffic may have made the Go nodes complain.
      assertClean([g0], [
        /Decrypt packet failed/,
        /failed to receive/,
        /Failed to decrypt/i,
        /Push\/Pull/,
        /encrypt/i,
      ]);
    },
  );
});
