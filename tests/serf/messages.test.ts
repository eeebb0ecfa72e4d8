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
  test("a join intent is go-msgpack's map of the Go struct's fields, sorted by name", () => {
    const b = encodeSerfMessage({ type: "join", ltime: 3, node: "a" });
    assert.equal(
      hex(b),
      hex(new Uint8Array([1, 0x82, ...raw("LTime"), 3, ...raw("Node"), ...raw("a")])),
    );
  });

  test("the bytes go-msgpack 0.5.5 writes for serf's structs (tests/serf/go_vectors)", () => {
    const vectors: [string, SerfMessage | Uint8Array, string][] = [
      ["join", { type: "join", ltime: 3, node: "a" }, "0182a54c54696d6503a44e6f6465a161"],
      [
        "leave",
        { type: "leave", ltime: 2 ** 40, node: "shoal-1" },
        "0082a54c54696d65cf0000010000000000a44e6f6465a773686f616c2d31",
      ],
      [
        "event",
        { type: "userEvent", ltime: 17, name: "purge", payload: bytes("/x"), coalesce: true },
        "0384a24343c3a54c54696d6511a44e616d65a57075726765a75061796c6f6164a22f78",
      ],
      [
        "event40",
        { type: "userEvent", ltime: 1, name: "n", payload: bytes("a".repeat(40)), coalesce: false },
        "0384a24343c2a54c54696d6501a44e616d65a16ea75061796c6f6164da0028" + "61".repeat(40),
      ],
      ["nodefilter", encodeNodeFilter(["a", "b"]), "0092a161a162"],
      [
        "tagfilter",
        encodeTagFilter("role", "^web$"),
        "0182a445787072a55e77656224a3546167a4726f6c65",
      ],
      [
        "query",
        samples[3],
        "048aa441646472a47f000001a746696c7465727392a60092a161a162b60182a445787072a55e77656224a354" +
        "6167a4726f6c65a5466c61677301a24944ce7fffffffa54c54696d6505a44e616d65a777686f2d686173a750" +
        "61796c6f6164a16ba4506f7274cd1f0aab52656c6179466163746f7202a754696d656f7574ceb2d05e00",
      ],
      [
        "querynofilter",
        {
          type: "query",
          ltime: 5,
          id: 9,
          addr: new Uint8Array([127, 0, 0, 1]),
          port: 7946,
          filters: [],
          flags: 0,
          relayFactor: 0,
          timeoutNs: 3e9,
          name: "q",
          payload: new Uint8Array(0),
        },
        "048aa441646472a47f000001a746696c74657273c0a5466c61677300a2494409a54c54696d6505a44e616d65" +
        "a171a75061796c6f6164a0a4506f7274cd1f0aab52656c6179466163746f7200a754696d656f7574ceb2d05e00",
      ],
      [
        "response",
        { type: "queryResponse", ltime: 5, id: 9, from: "b", flags: 0, payload: bytes("yes") },
        "0585a5466c61677300a446726f6da162a2494409a54c54696d6505a75061796c6f6164a3796573",
      ],
      [
        "ack",
        { type: "queryResponse", ltime: 5, id: 9, from: "b", flags: 1, payload: new Uint8Array(0) },
        "0585a5466c61677301a446726f6da162a2494409a54c54696d6505a75061796c6f6164c0",
      ],
      [
        "pushpull",
        {
          type: "pushPull",
          ltime: 10,
          statusLTimes: new Map([["a", 1]]),
          leftMembers: ["c"],
          eventLTime: 8,
          events: [{ ltime: 7, events: [{ name: "e", payload: bytes("p") }] }],
          queryLTime: 3,
        },
        "0286aa4576656e744c54696d6508a64576656e74739182a64576656e74739182a44e616d65a165a7506179" +
        "6c6f6164a170a54c54696d6507a54c54696d650aab4c6566744d656d6265727391a163aa51756572794c5469" +
        "6d6503ac5374617475734c54696d657381a16101",
      ],
      ["tags", encodeSerfTags({ role: "web" }), "ff81a4726f6c65a3776562"],
    ];
    for (const [name, m, goHex] of vectors) {
      const b = m instanceof Uint8Array ? m : encodeSerfMessage(m);
      assert.equal(hex(b).replaceAll(" ", ""), goHex, name);
    }
    // A relay: go-msgpack's header, then the wrapped message as is.
    const relay = encodeSerfMessage({
      type: "relay",
      ip: new Uint8Array([127, 0, 0, 1]),
      port: 7946,
      message: new Uint8Array([5]),
    });
    assert.equal(
      hex(relay).replaceAll(" ", ""),
      "0981a8446573744164647283a24950a47f000001a4506f7274cd1f0aa45a6f6e65a0" + "05",
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
    assert.equal(b[5], 0xc2); // CC (sorted first) false
  });

  test("every message round-trips, and an independent decoder reads the same fields", () => {
    for (const m of samples) {
      const b = encodeSerfMessage(m);
      assert.deepEqual(decodeSerfMessage(b), m, m.type);
      if (m.type !== "relay") assert.equal(typeof oracle(b), "object");
    }
    const q = oracle(encodeSerfMessage(samples[3])) as Record<string, unknown>;
    assert.deepEqual(Object.keys(q), [
      "Addr",
      "Filters",
      "Flags",
      "ID",
      "LTime",
      "Name",
      "Payload",
      "Port",
      "RelayFactor",
      "Timeout",
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
