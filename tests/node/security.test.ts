/** Labels and keys at the node level, over real sockets (UDP + TCP). */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { createNode, type ShoalNode } from "../../mod.ts";
import { FAST, waitFor } from "./helpers.ts";

const open: ShoalNode[] = [];
after(async () => {
  await Promise.all(open.map((n) => n.close()));
});
const start = async (name: string, seed: ShoalNode | undefined, extra: object) => {
  const n = await createNode({
    name,
    bind: "127.0.0.1:0",
    seeds: seed ? [`127.0.0.1:${seed.address.port}`] : [],
    config: FAST,
    ...extra,
  });
  open.push(n);
  return n;
};
const key = (c: string) => new TextEncoder().encode(c.repeat(16));

test("labelled clusters never mix; the same label works", { timeout: 30_000 }, async () => {
  const a = await start("la", undefined, { label: "blue" });
  const b = await start("lb", a, { label: "blue" });
  const c = await start("lc", a, { label: "green" });
  const d = await start("ld", a, {}); // unlabelled
  await waitFor(() => a.members("alive").length === 2 && b.members("alive").length === 2, 5000);
  await new Promise((r) => setTimeout(r, 1000));
  assert.deepEqual(a.members("alive").map((m) => m.name).sort(), ["la", "lb"]);
  assert.equal(c.members("alive").length, 1);
  assert.equal(d.members("alive").length, 1);
  assert.ok((a.stats().core.decodeErrors["bad-label"] ?? 0) > 0, "foreign labels counted");
});

test("keys rotate at run time without a split", { timeout: 30_000 }, async () => {
  const k1 = key("a"), k2 = key("b");
  const a = await start("ka", undefined, { keys: [k1] });
  const b = await start("kb", a, { keys: [k1] });
  await waitFor(() => a.members("alive").length === 2 && b.members("alive").length === 2, 5000);
  // Rotation: both learn k2, then both encrypt with it, then k1 is dropped.
  a.keyring!.add(k2);
  b.keyring!.add(k2);
  a.keyring!.use(k2);
  b.keyring!.use(k2);
  a.keyring!.remove(k1);
  b.keyring!.remove(k1);
  const before = a.stats().core.acksReceived;
  await waitFor(() => a.stats().core.acksReceived > before + 5, 5000, "probes with the new key");
  assert.equal(b.member("ka")?.state, "alive");
  // A node still on the old key only is now kept out.
  const old = await start("kold", a, { keys: [k1] });
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(a.member("kold"), undefined);
  assert.equal(old.members("alive").length, 1);
  assert.throws(() => a.keyring!.remove(k2), /primary/);
});
