import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_VSN } from "../../src/core/config.ts";
import type { MemberRecord } from "../../src/core/member.ts";
import { MemberTable, SharedRecords } from "../../src/core/membership.ts";
import { type Rng, seededRng } from "../../src/core/rng.ts";

function record(name: string, incarnation = 1): MemberRecord {
  const i = Number(name.slice(1)) || 0;
  return {
    name,
    addr: new Uint8Array([10, 0, i >> 8, i & 255]),
    host: `10.0.${i >> 8}.${i & 255}`,
    port: 7946,
    meta: null,
    vsn: DEFAULT_VSN,
    incarnation,
    state: "alive",
  };
}

function table(self: string, list: MemberRecord[], rng: Rng, shared?: SharedRecords) {
  const t = new MemberTable(self, rng, shared);
  t.add(record(self));
  t.addAll(list);
  return t;
}

test("tables sharing records hold one record where they agree and their own where not", () => {
  const shared = new SharedRecords();
  const list = ["n0", "n1", "n2", "n3"].map((n) => record(n));
  const t0 = table("n0", list, seededRng(1), shared);
  const t1 = table("n1", list, seededRng(2), shared);
  assert.equal(t0.get("n2"), t1.get("n2"));
  const own = t0.update(t0.get("n2")!, { state: "suspect" }, 5);
  assert.equal(t0.get("n2"), own);
  assert.equal(t1.get("n2")!.state, "alive");
  // The same change reached elsewhere: one record again, each table with its own time.
  assert.equal(t1.update(t1.get("n2")!, { state: "suspect" }, 7), own);
  assert.equal(t0.changedAt(own), 5);
  assert.equal(t1.changedAt(own), 7);
  // Our own record is never shared and changes in place.
  const self = t0.get("n0")!;
  assert.equal(t0.update(self, { incarnation: 2 }, 8), self);
  assert.equal(self.incarnation, 2);
  assert.equal(t1.get("n0")!.incarnation, 1);
  assert.deepEqual([...t1.values()].map((m) => m.name), ["n1", "n0", "n2", "n3"]);
  assert.equal(t1.size, 4);
});

test("a ring left unwritten probes and samples exactly as a written one, draw for draw", () => {
  const list = Array.from({ length: 150 }, (_, i) => record(`n${i}`));
  // A generator seededRng did not make cannot be replayed: that table writes its ring out.
  const plain = seededRng(9);
  const written = table("n5", list, { next: () => plain.next() });
  const lazy = table("n5", list, seededRng(9), new SharedRecords());
  const reap = (m: MemberRecord) => m.state === "dead";
  const trace = (t: MemberTable, step: number) => {
    if (step === 40) t.add(record("n900"), step);
    if (step === 90) t.update(t.get("n7")!, { state: "dead" }, step);
    if (step % 7 === 0) return t.sample(3, () => true).map((m) => m.name).join(",");
    return t.nextProbeTarget(reap)?.name;
  };
  for (let step = 0; step < 500; step++) {
    assert.equal(trace(lazy, step), trace(written, step), `step ${step}`);
  }
  assert.equal(lazy.size, written.size);
});
