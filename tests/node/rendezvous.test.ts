/**
 * Rendezvous hashing (src/node/rendezvous.ts): deterministic, balanced, and minimal movement
 * when a member joins or leaves.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  memberTags,
  ownerOf,
  rankOwners,
  type RendezvousMember,
  rendezvousScore,
} from "../../mod.ts";
import { encodeTags } from "../../src/node/tags.ts";

const member = (name: string, tags: Record<string, string> = { role: "edge" }) => ({
  name,
  state: "alive" as const,
  meta: encodeTags(tags),
});
const KEYS = Array.from({ length: 10_000 }, (_, i) => `key-${i}`);
const owners = (members: RendezvousMember[]) => KEYS.map((k) => ownerOf(k, members)!.name);

test("the score is a fixed function: pinned values, and tie-free for distinct names", () => {
  // Pinned so that an accidental change of the hash (which would move every key of every
  // deployed cluster) fails here. Values from the reference definition in the module doc.
  assert.equal(rendezvousScore("", ""), 4197582730);
  assert.equal(rendezvousScore("user:42", "edge-1"), 91779536);
  assert.equal(rendezvousScore("key-0", "edge-0"), 1907823098);
  const a = rendezvousScore("user:42", "edge-1");
  assert.equal(a, rendezvousScore("user:42", "edge-1"));
  assert.ok(Number.isInteger(a) && a >= 0 && a < 2 ** 32);
  assert.notEqual(a, rendezvousScore("user:42", "edge-2"));
  assert.notEqual(a, rendezvousScore("user:43", "edge-1"));
});

test("UTF-8: a non-ASCII key scores as its UTF-8 bytes do", () => {
  // "é" (U+00E9) is C3 A9 in UTF-8; "😀" (U+1F600) is F0 9F 98 80. A hand-rolled FNV over
  // the bytes must agree with the inline encoder.
  const fnvBytes = (bytes: Uint8Array) => {
    let h = 0x811c9dc5;
    for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
    return h >>> 0;
  };
  const mix = (x: number) => {
    x ^= x >>> 16;
    x = Math.imul(x, 0x7feb352d);
    x ^= x >>> 15;
    x = Math.imul(x, 0x846ca68b);
    x ^= x >>> 16;
    return x >>> 0;
  };
  const enc = new TextEncoder();
  for (const key of ["é", "😀", "naïve-ключ-鍵", "a\ud800b"]) {
    const expected = mix(fnvBytes(enc.encode(key)) ^ mix(fnvBytes(enc.encode("n1"))));
    assert.equal(rendezvousScore(key, "n1"), expected, key);
  }
});

test("balance: 10,000 keys over 10 members, each within ±20 % of the mean", () => {
  const members = Array.from({ length: 10 }, (_, i) => member(`edge-${i}`));
  const counts = new Map<string, number>();
  for (const o of owners(members)) counts.set(o, (counts.get(o) ?? 0) + 1);
  assert.equal(counts.size, 10);
  const mean = KEYS.length / 10;
  for (const [name, n] of counts) {
    assert.ok(Math.abs(n - mean) <= 0.2 * mean, `${name} owns ${n} keys, mean ${mean}`);
  }
});

test("a member leaving moves only its own keys, spread over the others", () => {
  const members = Array.from({ length: 10 }, (_, i) => member(`edge-${i}`));
  const before = owners(members);
  const after = owners(members.filter((m) => m.name !== "edge-3"));
  let moved = 0;
  const gained = new Map<string, number>();
  for (let i = 0; i < KEYS.length; i++) {
    if (before[i] === after[i]) continue;
    moved++;
    assert.equal(before[i], "edge-3", `${KEYS[i]} moved from ${before[i]} to ${after[i]}`);
    gained.set(after[i], (gained.get(after[i]) ?? 0) + 1);
  }
  assert.equal(moved, before.filter((o) => o === "edge-3").length);
  // ≈ 1/10 of the keys, each survivor taking ≈ 1/9 of them.
  assert.ok(moved > 0.08 * KEYS.length && moved < 0.12 * KEYS.length, `${moved} moved`);
  assert.equal(gained.size, 9);
  for (const [name, n] of gained) assert.ok(n > moved / 9 / 2, `${name} gained ${n}`);
});

test("a member joining takes ≈ 1/(n+1) of the keys, and only from others to itself", () => {
  const members = Array.from({ length: 10 }, (_, i) => member(`edge-${i}`));
  const before = owners(members);
  const after = owners([...members, member("edge-new")]);
  let moved = 0;
  for (let i = 0; i < KEYS.length; i++) {
    if (before[i] === after[i]) continue;
    moved++;
    assert.equal(after[i], "edge-new", `${KEYS[i]} moved from ${before[i]} to ${after[i]}`);
  }
  const share = KEYS.length / 11;
  assert.ok(Math.abs(moved - share) <= 0.2 * share, `${moved} moved, expected ≈ ${share}`);
});

test("eligibility: alive only by default, tags filter, order of members does not matter", () => {
  const edge = [member("e1"), member("e2"), member("e3")];
  const others = [
    member("w1", { role: "web" }),
    { name: "raw", state: "alive" as const, meta: new TextEncoder().encode("edge") },
    { ...member("e4"), state: "suspect" as const },
    { ...member("e5"), state: "left" as const },
  ];
  const all = [...others, ...edge];
  for (const key of KEYS.slice(0, 500)) {
    const o = ownerOf(key, all, { tag: "role=edge" })!.name;
    assert.ok(["e1", "e2", "e3"].includes(o), o);
    assert.equal(ownerOf(key, [...all].reverse(), { tag: { role: "edge" } })!.name, o);
    assert.equal(ownerOf(key, edge)!.name, o);
    assert.equal(rankOwners(key, all, { tag: "role=edge" })[0].name, o);
  }
  // "role" (any value) admits w1 too; the raw-metadata member never has tags.
  const any = new Set(KEYS.slice(0, 500).map((k) => ownerOf(k, all, { tag: "role" })!.name));
  assert.ok(any.has("w1") && !any.has("raw") && !any.has("e4") && !any.has("e5"));
  const withSuspects = new Set(
    KEYS.slice(0, 500).map((k) =>
      ownerOf(k, all, { tag: "role=edge", states: ["alive", "suspect"] })!.name
    ),
  );
  assert.ok(withSuspects.has("e4"));
  assert.equal(ownerOf("k", all, { tag: "role=db" }), undefined);
  assert.equal(ownerOf("k", edge, { where: (m) => m.name === "e2" })!.name, "e2");
});

test("a member whose tags change is judged by its current tags", () => {
  const e1 = member("t1");
  const key = "k";
  assert.equal(ownerOf(key, [e1], { tag: "role=edge" })?.name, "t1");
  assert.equal(ownerOf(key, [member("t1", { role: "web" })], { tag: "role=edge" }), undefined);
  assert.equal(ownerOf(key, [e1], { tag: "role=edge" })?.name, "t1");
});

test("rankOwners: the owner first, and the runner-up is where the key goes without it", () => {
  const members = Array.from({ length: 5 }, (_, i) => member(`edge-${i}`));
  for (const key of KEYS.slice(0, 1000)) {
    const ranked = rankOwners(key, members);
    assert.equal(ranked.length, 5);
    assert.equal(ranked[0].name, ownerOf(key, members)!.name);
    const without = members.filter((m) => m.name !== ranked[0].name);
    assert.equal(ownerOf(key, without)!.name, ranked[1].name);
  }
});

test("memberTags reads serf's tags and refuses anything else", () => {
  assert.deepEqual(memberTags(encodeTags({ role: "edge", http: "127.0.0.1:8080" })), {
    http: "127.0.0.1:8080",
    role: "edge",
  });
  assert.deepEqual(memberTags(new Uint8Array(0)), {});
  assert.equal(memberTags(new TextEncoder().encode("role=edge")), undefined);
  assert.equal(memberTags(new Uint8Array([0xc0])), undefined); // nil is not a map
  assert.equal(memberTags(new Uint8Array([0x81, 0xa1, 0x61])), undefined); // truncated
});

test("fast: a lookup over 10 tagged members costs microseconds", () => {
  // Not a timing assert on the scale of a benchmark: 10,000 lookups must finish in under 5 s
  // even on a loaded machine (they take a few ms).
  const members = Array.from({ length: 10 }, (_, i) => member(`edge-${i}`));
  const t0 = performance.now();
  for (const k of KEYS) ownerOf(k, members, { tag: "role=edge" });
  assert.ok(performance.now() - t0 < 5000);
});
