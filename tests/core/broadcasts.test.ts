import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { BroadcastQueue, retransmitLimit } from "../../src/core/broadcasts.ts";
import type { Packer } from "../../src/core/codec.ts";
import { Suspicion, suspicionBounds } from "../../src/core/suspicion.ts";

const bytes = (tag: number, size: number) => new Uint8Array(size).fill(tag & 255);

/** A packer of `limit` bytes where each part costs `overhead` more, holding at most `max`. */
function packer(limit: number, overhead: number, max: number): Packer & { parts: Uint8Array[] } {
  const parts: Uint8Array[] = [];
  let free = limit;
  const room = (reserve = 0) => parts.length >= max ? 0 : Math.max(0, free - reserve - overhead);
  return {
    parts,
    get count() {
      return parts.length;
    },
    get free() {
      return free;
    },
    room,
    add(part) {
      if (parts.length > 0 && part.length > room()) return false;
      parts.push(part);
      free -= overhead + part.length;
      return true;
    },
    finish: () => new Uint8Array(0),
  };
}

/** Take from `q` into a fresh packer; the parts taken. */
function take(q: BroadcastQueue, limit: number, overhead: number, max: number, transmits: number) {
  const p = packer(limit, overhead, max);
  q.take(p, 0, transmits);
  return p.parts;
}

describe("broadcast queue", () => {
  test("fewest transmits first, then largest, then newest", () => {
    const q = new BroadcastQueue();
    q.enqueue("a", bytes(1, 10));
    q.enqueue("b", bytes(2, 30));
    q.enqueue("c", bytes(3, 10));
    // One at a time: b (largest), then c (newest of the 10-byte ones), then a.
    assert.deepEqual(take(q, 1000, 2, 1, 3)[0][0], 2);
    assert.deepEqual(take(q, 1000, 2, 1, 3)[0][0], 3);
    assert.deepEqual(take(q, 1000, 2, 1, 3)[0][0], 1);
    // All have been sent once; the next round starts again from the largest.
    assert.deepEqual(take(q, 1000, 2, 1, 3)[0][0], 2);
  });

  test("a newer rumour about the same member replaces the older one, settling it", () => {
    const q = new BroadcastQueue();
    let settled = 0;
    q.enqueue("x", bytes(1, 5), () => settled++);
    q.enqueue("x", bytes(2, 5));
    assert.equal(q.size, 1);
    assert.equal(settled, 1);
    const parts = take(q, 1000, 2, 10, 3);
    assert.deepEqual(parts.map((p) => p[0]), [2]);
  });

  test("a reserve is left free for whoever packs next", () => {
    const q = new BroadcastQueue();
    for (let i = 0; i < 5; i++) q.enqueue(`k${i}`, bytes(i, 98));
    const p = packer(1000, 2, 127);
    q.take(p, 500, 3);
    assert.equal(p.parts.length, 5, "five of 100 bytes fit beside the reserve");
    const tight = packer(1000, 2, 127);
    const q2 = new BroadcastQueue();
    for (let i = 0; i < 10; i++) q2.enqueue(`k${i}`, bytes(i, 98));
    q2.take(tight, 500, 3);
    assert.equal(tight.parts.length, 5, "the reserve stops the sixth");
    assert.ok(tight.free >= 500);
  });

  test("each rumour is sent exactly transmitLimit times, then settles", () => {
    const q = new BroadcastQueue();
    let settled = 0;
    q.enqueue("x", bytes(1, 5), () => settled++);
    for (let i = 0; i < 4; i++) assert.equal(take(q, 1000, 2, 10, 4).length, 1);
    assert.equal(take(q, 1000, 2, 10, 4).length, 0);
    assert.equal(settled, 1);
    assert.equal(q.size, 0);
  });

  test("bytes counts what is queued: replaced and finished rumours leave it", () => {
    const q = new BroadcastQueue();
    q.enqueue("a", bytes(1, 10));
    q.enqueue("b", bytes(2, 30));
    assert.equal(q.bytes, 40);
    q.enqueue("a", bytes(3, 5));
    assert.equal(q.bytes, 35);
    take(q, 1000, 2, 10, 2);
    assert.equal(q.bytes, 35);
    take(q, 1000, 2, 10, 2);
    assert.equal(q.bytes, 0);
    q.enqueue("c", bytes(4, 7));
    q.clear();
    assert.equal(q.bytes, 0);
  });

  test("retransmit limit follows memberlist's table (protocol.md §9)", () => {
    const cases: [number, number][] = [[1, 4], [9, 4], [10, 8], [99, 8], [100, 12], [1000, 16]];
    for (const [n, want] of cases) assert.equal(retransmitLimit(4, n), want, `n=${n}`);
  });

  test("property: budget, count and transmit limits hold; fewer transmits always win", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({
              op: fc.constant("put"),
              key: fc.integer({ min: 0, max: 30 }),
              size: fc.integer({ min: 1, max: 300 }),
            }),
            fc.record({
              op: fc.constant("take"),
              limit: fc.integer({ min: 0, max: 1400 }),
              max: fc.integer({ min: 1, max: 10 }),
            }),
          ),
          { maxLength: 200 },
        ),
        (ops) => {
          const q = new BroadcastQueue();
          const sent = new Map<Uint8Array, number>();
          const current = new Map<string, Uint8Array>();
          const LIMIT = 3;
          for (const o of ops) {
            if (o.op === "put") {
              const b = new Uint8Array(o.size);
              q.enqueue(String(o.key), b);
              current.set(String(o.key), b);
              sent.set(b, 0);
            } else {
              const before = new Map(sent);
              const parts = take(q, o.limit, 2, o.max, LIMIT);
              const used = parts.reduce((s, p) => s + p.length + 2, 0);
              assert.ok(used <= o.limit, "over budget");
              assert.ok(parts.length <= o.max, "too many parts");
              for (const p of parts) {
                sent.set(p, sent.get(p)! + 1);
                assert.ok(sent.get(p)! <= LIMIT, "sent too often");
              }
              // No untaken live rumour with fewer transmits would have fitted in the room a
              // taken rumour with more transmits used.
              const maxTaken = Math.max(-1, ...parts.map((p) => before.get(p)!));
              for (const p of parts) before.delete(p);
              const room = o.limit - used;
              for (const [b, n] of before) {
                const live = n < LIMIT && [...current.values()].includes(b);
                if (live && n < maxTaken && parts.length < o.max) {
                  assert.ok(b.length + 2 > room, "skipped a fresher rumour that fit");
                }
              }
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("suspicion timeouts (protocol.md §9 table)", () => {
  test("min, max and k for LAN settings", () => {
    const rows: [number, number, number, number][] = [
      [3, 4000, 24000, 0],
      [4, 4000, 24000, 2],
      [20, 5204, 31224, 2],
      [33, 6072, 36432, 2],
      [100, 8000, 48000, 2],
      [1000, 12000, 72000, 2],
    ];
    for (const [n, min, max, k] of rows) {
      assert.deepEqual(suspicionBounds(n, 4, 6, 1000), { min, max, k }, `n=${n}`);
    }
  });

  test("confirmations shrink the timeout: 24 s, 11.381 s, 4 s", () => {
    const s = new Suspicion(1, 0, suspicionBounds(5, 4, 6, 1000), "a");
    assert.equal(s.timeout(), 24000);
    assert.equal(s.confirm("a"), false, "the accuser does not confirm itself");
    assert.equal(s.confirm("b"), true);
    assert.equal(s.timeout(), 11381);
    assert.equal(s.confirm("b"), false, "one confirmation per member");
    assert.equal(s.confirm("c"), true);
    assert.equal(s.timeout(), 4000);
    assert.equal(s.confirm("d"), false, "no more than k");
  });
});
