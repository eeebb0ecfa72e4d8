/** Serf's message, tag and filter encodings: go-msgpack's bytes, round trips, hostile input. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { decode as oracleDecode } from "@msgpack/msgpack";
import fc from "fast-check";
import { DecodeError } from "../../src/core/codec.ts";
import {
  decodeFilter,
  decodeSerfMessage,
  decodeSerfTags,
  encodeNodeFilter,
  encodeSerfMessage,
  encodeSerfTags,
  encodeTagFilter,
  type SerfMessage,
} from "../../src/serf/mod.ts";

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");
const raw = (s: string) => [0xa0 | s.length, ...new TextEncoder().encode(s)];
const bytes = (s: string) => new TextEncoder().encode(s);

/** What @msgpack/msgpack (an independent decoder) reads after the type byte. */
function oracle(b: Uint8Array): unknown {
  return oracleDecode(b.subarray(1), { useBigInt64: false });
}

const samples: SerfMessage[] = [
  { type: "join", ltime: 3, node: "a" },
  { type: "leave", ltime: 2 ** 40, node: "shoal-1" },
  { type: "userEvent", ltime: 17, name: "purge", payload: bytes("/x"), coalesce: true },
  {
    type: "query",
    ltime: 5,
    id: 0x7fff_ffff,
    addr: new Uint8Array([127, 0, 0, 1]),
    port: 7946,
    filters: [encodeNodeFilter(["a", "b"]), encodeTagFilter("role", "^web$")],
    flags: 1,
    relayFactor: 2,
    timeoutNs: 3_000_000_000,
    name: "who-has",
    payload: bytes("k"),
  },
  { type: "queryResponse", ltime: 5, id: 9, from: "b", flags: 0, payload: bytes("yes") },
  {
    type: "pushPull",
    ltime: 10,
    statusLTimes: new Map([["a", 1], ["b", 4]]),
    leftMembers: ["c"],
    eventLTime: 8,
    events: [{ ltime: 7, events: [{ name: "e", payload: bytes("p") }] }],
    queryLTime: 3,
  },
  {
    type: "relay",
    ip: new Uint8Array([127, 0, 0, 1]),
    port: 7946,
    message: encodeSerfMessage({
      type: "queryResponse",
      ltime: 1,
      id: 2,
      from: "x",
      flags: 1,
      payload: new Uint8Array(0),
    }),
  },
];

describe("serf messages", () => {
  test("a join intent is go-msgpack's map of the Go struct's fields", () => {
    const b = encodeSerfMessage({ type: "join", ltime: 3, node: "a" });
    assert.equal(
      hex(b),
      hex(new Uint8Array([1, 0x82, ...raw("LTime"), 3, ...raw("Node"), ...raw("a")])),
    );
  });

  test("byte slices and strings use the raw family (never bin, never str8)", () => {
    const payload = new Uint8Array(40).fill(0x61);
    const b = encodeSerfMessage({
      type: "userEvent",
      ltime: 1,
      name: "n",
      payload,
      coalesce: false,
    });
    const at = b.indexOf(0xda); // str16 for 40 bytes, where a newer encoder writes d9 or c4
    assert.ok(at > 0);
    assert.equal(b[at + 1] * 256 + b[at + 2], 40);
    assert.ok(!b.includes(0xc4) && !b.includes(0xd9));
    assert.equal(b[b.length - 1], 0xc2); // CC false
  });

  test("every message round-trips, and an independent decoder reads the same fields", () => {
    for (const m of samples) {
      const b = encodeSerfMessage(m);
      assert.deepEqual(decodeSerfMessage(b), m, m.type);
      if (m.type !== "relay") assert.equal(typeof oracle(b), "object");
    }
    const q = oracle(encodeSerfMessage(samples[3])) as Record<string, unknown>;
    assert.deepEqual(Object.keys(q), [
      "LTime",
      "ID",
      "Addr",
      "Port",
      "Filters",
      "Flags",
      "RelayFactor",
      "Timeout",
      "Name",
      "Payload",
    ]);
    assert.equal(q.Timeout, 3_000_000_000);
    const pp = oracle(encodeSerfMessage(samples[5])) as Record<string, unknown>;
    assert.deepEqual(pp.StatusLTimes, { a: 1, b: 4 });
    assert.deepEqual(pp.LeftMembers, ["c"]);
  });

  test("serf's nil-padded event ring and unknown fields are accepted", () => {
    // Events: [nil, {LTime: 2, Events: [{Name: "x", Payload: nil}]}], plus a key we skip.
    const b = new Uint8Array([
      2,
      0x83,
      ...raw("Events"),
      0x92,
      0xc0,
      0x82,
      ...raw("LTime"),
      2,
      ...raw("Events"),
      0x91,
      0x82,
      ...raw("Name"),
      ...raw("x"),
      ...raw("Payload"),
      0xc0,
      ...raw("Future"),
      0x93,
      1,
      2,
      3,
      ...raw("LTime"),
      0xcf,
      0,
      0,
      0,
      1,
      0,
      0,
      0,
      0,
    ]);
    const m = decodeSerfMessage(b);
    assert.equal(m.type, "pushPull");
    if (m.type !== "pushPull") return;
    assert.equal(m.ltime, 2 ** 32);
    assert.deepEqual(m.events, [{ ltime: 2, events: [{ name: "x", payload: new Uint8Array(0) }] }]);
  });

  test("hostile input: only DecodeError, for truncations and random bytes", () => {
    for (const m of samples) {
      const b = encodeSerfMessage(m);
      for (let n = 0; n < b.length; n++) {
        try {
          decodeSerfMessage(b.subarray(0, n));
        } catch (err) {
          assert.ok(err instanceof DecodeError, `${m.type} cut at ${n}: ${err}`);
        }
      }
    }
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 9 }), fc.uint8Array({ maxLength: 200 }), (t, rest) => {
        try {
          decodeSerfMessage(new Uint8Array([t, ...rest]));
        } catch (err) {
          return err instanceof DecodeError;
        }
        return true;
      }),
      { numRuns: 3000, seed: 13 },
    );
  });

  test("counts beyond the bounds are refused before anything is allocated", () => {
    // LeftMembers: array32 of 2^32 - 1 names in a few bytes.
    const b = new Uint8Array([2, 0x81, ...raw("LeftMembers"), 0xdd, 0xff, 0xff, 0xff, 0xff]);
    assert.throws(() => decodeSerfMessage(b), (e) => e instanceof DecodeError);
    assert.throws(
      () => decodeSerfMessage(new Uint8Array([6, 0x80])),
      (e) => e instanceof DecodeError && e.kind === "unknown-type",
    );
  });
});

describe("serf tags and filters", () => {
  test("tags: the magic byte, then a sorted map of strings; the old role form reads too", () => {
    const b = encodeSerfTags({ role: "web", dc: "a" });
    assert.equal(
      hex(b),
      hex(new Uint8Array([0xff, 0x82, ...raw("dc"), ...raw("a"), ...raw("role"), ...raw("web")])),
    );
    assert.deepEqual(decodeSerfTags(b), { dc: "a", role: "web" });
    assert.equal(hex(encodeSerfTags({})), "ff 80");
    assert.deepEqual(decodeSerfTags(bytes("db")), { role: "db" });
    assert.deepEqual(decodeSerfTags(null), { role: "" });
    assert.deepEqual(oracleDecode(b.subarray(1)), { dc: "a", role: "web" });
  });

  test("tags over 512 bytes are refused; malformed tags are a DecodeError", () => {
    assert.throws(() => encodeSerfTags({ big: "x".repeat(600) }), RangeError);
    assert.throws(() => decodeSerfTags(new Uint8Array([0xff, 0x81, 0xa1])), DecodeError);
  });

  test("filters: node lists and tag expressions", () => {
    assert.deepEqual(decodeFilter(encodeNodeFilter(["a", "b"])), {
      type: "nodes",
      nodes: ["a", "b"],
    });
    assert.equal(hex(encodeNodeFilter(["a"])), hex(new Uint8Array([0, 0x91, ...raw("a")])));
    assert.deepEqual(decodeFilter(encodeTagFilter("role", "^w")), {
      type: "tag",
      tag: "role",
      expr: "^w",
    });
    assert.throws(() => decodeFilter(new Uint8Array([7])), DecodeError);
  });
});
