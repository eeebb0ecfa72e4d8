/**
 * The msgpack dialect against an independent implementation (@msgpack/msgpack): what the
 * Writer emits decodes identically there, and what that library emits (str8, bin, signed
 * ints, unknown keys, any key order) decodes correctly with the Reader.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { decode as oracleDecode, encode as oracleEncode } from "@msgpack/msgpack";
import type { Message } from "../../src/core/messages.ts";
import {
  decodeMessage,
  encodeMessage,
  MAX_SKIP_DEPTH,
  Reader,
  U16_MAX,
  U32_MAX,
  Writer,
} from "../../src/wire/mod.ts";
import { assertDecodeError, concat, hex, toHex, utf8 } from "./_helpers.ts";
import { arbMessage } from "./_arbitraries.ts";

const T = { timeout: 60_000 };

// ---------------------------------------------------------------------------------------
// Writer: exact forms

function written(fn: (w: Writer) => void): string {
  const w = new Writer(4);
  fn(w);
  return toHex(w.finish());
}

test("writer: smallest unsigned int forms", T, () => {
  const cases: [number, string][] = [
    [0, "00"],
    [127, "7f"],
    [128, "cc 80"],
    [255, "cc ff"],
    [256, "cd 01 00"],
    [65535, "cd ff ff"],
    [65536, "ce 00 01 00 00"],
    [U32_MAX, "ce ff ff ff ff"],
    [U32_MAX + 1, "cf 00 00 00 01 00 00 00 00"],
    [Number.MAX_SAFE_INTEGER, "cf 00 1f ff ff ff ff ff ff"],
  ];
  for (const [v, bytes] of cases) assert.equal(written((w) => w.uint(v)), bytes, `${v}`);
  for (const bad of [-1, 1.5, NaN, Infinity, 2 ** 53]) {
    assert.throws(() => new Writer().uint(bad), RangeError);
  }
});

test("writer: raw family for strings and bytes, never str8 or bin", T, () => {
  const header = (len: number) => written((w) => w.str("x".repeat(len))).slice(0, 14);
  assert.equal(header(0), "a0");
  assert.equal(header(31).slice(0, 2), "bf");
  assert.equal(header(32).slice(0, 8), "da 00 20");
  assert.equal(header(255).slice(0, 8), "da 00 ff");
  assert.equal(header(65535).slice(0, 8), "da ff ff");
  assert.equal(header(65536).slice(0, 14), "db 00 01 00 00");
  const binHeader = (len: number) => written((w) => w.bin(new Uint8Array(len))).slice(0, 8);
  assert.equal(binHeader(0), "a0");
  assert.equal(binHeader(40), "da 00 28");
  assert.equal(written((w) => w.bin(null)), "c0");
});

test("writer: UTF-8 strings get the header of their byte length", T, () => {
  for (
    const [s, head] of [
      ["é".repeat(10), "b4"],
      ["é".repeat(15), "be"],
      ["é".repeat(16), "da 00 20"],
      [
        "😀".repeat(8),
        "da 00 20",
      ],
      ["a".repeat(31) + "é", "da 00 21"],
      ["\ud800", "a3"],
    ] as const
  ) {
    const out = written((w) => w.str(s));
    assert.ok(out.startsWith(head), `${JSON.stringify(s)}: ${out.slice(0, 10)}`);
    assert.equal(oracleDecode(hex(out)), s === "\ud800" ? "\ufffd" : s);
  }
});

test("writer: map headers, bools, nil", T, () => {
  assert.equal(written((w) => w.mapHeader(15)), "8f");
  assert.equal(written((w) => w.mapHeader(16)), "de 00 10");
  assert.equal(written((w) => w.mapHeader(70000)), "df 00 01 11 70");
  assert.equal(written((w) => (w.bool(false), w.bool(true), w.nil())), "c2 c3 c0");
});

test("writer: reuse after reset and growth from a tiny buffer", T, () => {
  const w = new Writer(1);
  w.str("hello".repeat(100));
  const first = w.finish();
  w.reset();
  w.uint(5);
  assert.equal(toHex(w.finish()), "05");
  assert.equal(oracleDecode(first), "hello".repeat(100));
});

// ---------------------------------------------------------------------------------------
// Writer → oracle

/** Map keys; the oracle (rightly) refuses `__proto__`. */
const arbKey = (maxLength: number) => fc.string({ maxLength }).filter((k) => k !== "__proto__");

type Value = number | boolean | null | string | Uint8Array | { [key: string]: Value };

const arbValue: fc.Arbitrary<Value> = fc.letrec<{ value: Value }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.oneof(fc.nat(300), fc.nat(70_000), fc.nat({ max: U32_MAX }), fc.maxSafeNat()),
    fc.boolean(),
    fc.constant(null),
    fc.string({ unit: "binary", maxLength: 40 }),
    fc.string({ unit: "grapheme-ascii", minLength: 28, maxLength: 300 }),
    fc.uint8Array({ maxLength: 70 }),
    fc.dictionary(arbKey(12), tie("value"), { maxKeys: 20, noNullPrototype: true }),
  ),
})).value;

function writeValue(w: Writer, v: Value): void {
  if (v === null) w.nil();
  else if (typeof v === "boolean") w.bool(v);
  else if (typeof v === "number") w.uint(v);
  else if (typeof v === "string") w.str(v);
  else if (v instanceof Uint8Array) w.bin(v);
  else {
    const keys = Object.keys(v);
    w.mapHeader(keys.length);
    for (const k of keys) {
      w.str(k);
      writeValue(w, v[k]);
    }
  }
}

/** What the oracle returns with rawStrings: strings and bytes both as UTF-8 bytes. */
function asRaw(v: Value): unknown {
  if (typeof v === "string") return utf8(v);
  if (v === null || typeof v !== "object" || v instanceof Uint8Array) return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) out[k] = asRaw(v[k]);
  return out;
}

function assertDialect(bytes: Uint8Array): void {
  // Skip through with our own Reader, checking no str8/bin/signed header appears.
  const r = new Reader(bytes);
  const walk = (): void => {
    const b = r.peek();
    assert.ok(![0xd9, 0xc4, 0xc5, 0xc6, 0xd0, 0xd1, 0xd2, 0xd3].includes(b), `form 0x${b}`);
    if ((b & 0xf0) === 0x80 || b === 0xde) {
      const n = r.mapHeader();
      for (let i = 0; i < 2 * n; i++) walk();
    } else r.skip();
  };
  walk();
  assert.equal(r.remaining, 0);
}

test("oracle: Writer output decodes identically with @msgpack/msgpack", T, () => {
  const w = new Writer(16);
  fc.assert(
    fc.property(arbValue, (v) => {
      w.reset();
      writeValue(w, v);
      const bytes = w.finish();
      assert.deepStrictEqual(oracleDecode(bytes, { rawStrings: true }), asRaw(v));
      assertDialect(bytes);
    }),
    { numRuns: 2_000 },
  );
});

test("oracle: encoded messages decode with @msgpack/msgpack to Go's field names", T, () => {
  fc.assert(
    fc.property(arbMessage, (m) => {
      const bytes = encodeMessage(m);
      if (m.type === "user") return;
      const obj = oracleDecode(bytes.subarray(1), { rawStrings: true }) as Record<string, unknown>;
      const keys = Object.keys(obj);
      assert.deepStrictEqual(keys, [...keys].sort(), "keys sorted by byte value");
      for (const k of keys) assert.match(k, /^[A-Z][A-Za-z]+$/);
      if ("seqNo" in m) assert.equal(obj.SeqNo, m.seqNo);
      if ("incarnation" in m) assert.equal(obj.Incarnation, m.incarnation);
      assertDialect(bytes.subarray(1));
    }),
    { numRuns: 1_000 },
  );
});

// ---------------------------------------------------------------------------------------
// Oracle → Reader

/** An arbitrary msgpack-able value for unknown keys (negative ints, floats, arrays, bin…). */
const arbJunk: fc.Arbitrary<unknown> = fc.letrec<{ junk: unknown }>((tie) => ({
  junk: fc.oneof(
    { depthSize: "small" },
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.string({ maxLength: 300 }),
    fc.uint8Array({ maxLength: 300 }),
    fc.array(tie("junk"), { maxLength: 5 }),
    fc.dictionary(arbKey(5), tie("junk"), { maxKeys: 5, noNullPrototype: true }),
  ),
})).junk;

const goKeys: Record<string, Record<string, string>> = {
  ping: {
    seqNo: "SeqNo",
    node: "Node",
    sourceAddr: "SourceAddr",
    sourcePort: "SourcePort",
    sourceNode: "SourceNode",
  },
  indirectPing: {
    seqNo: "SeqNo",
    target: "Target",
    port: "Port",
    node: "Node",
    nack: "Nack",
    sourceAddr: "SourceAddr",
    sourcePort: "SourcePort",
    sourceNode: "SourceNode",
  },
  ack: { seqNo: "SeqNo", payload: "Payload" },
  nack: { seqNo: "SeqNo" },
  suspect: { incarnation: "Incarnation", node: "Node", from: "From" },
  dead: { incarnation: "Incarnation", node: "Node", from: "From" },
  alive: {
    incarnation: "Incarnation",
    node: "Node",
    addr: "Addr",
    port: "Port",
    meta: "Meta",
    vsn: "Vsn",
  },
};
const typeByte: Record<string, number> = {
  ping: 0,
  indirectPing: 1,
  ack: 2,
  suspect: 3,
  alive: 4,
  dead: 5,
  nack: 11,
};

test("oracle: @msgpack/msgpack maps (bin strings, str8, extra keys, any order) decode", T, () => {
  fc.assert(
    fc.property(
      arbMessage.filter((m) => m.type !== "user"),
      fc.array(fc.tuple(arbKey(12), arbJunk), { maxLength: 4 }),
      fc.infiniteStream(fc.boolean()),
      fc.infiniteStream(fc.nat()),
      (m, extras, flips, order) => {
        const names = goKeys[m.type];
        const entries: [string, unknown][] = [];
        for (const [field, value] of Object.entries(m)) {
          if (field === "type") continue;
          // Strings go either as str (str8 for 32..255 bytes) or as bin; bytes likewise.
          let v: unknown = value;
          if (typeof value === "string" && flips.next().value) v = utf8(value);
          entries.push([names[field], v]);
        }
        for (const [k, v] of extras) {
          if (!Object.values(names).includes(k)) entries.push([k, v]);
        }
        const keys = entries.map((_e, i) => [order.next().value, i] as const).sort((a, b) =>
          a[0] - b[0]
        );
        const obj: Record<string, unknown> = {};
        for (const [, i] of keys) obj[entries[i][0]] = entries[i][1];
        const bytes = concat(new Uint8Array([typeByte[m.type]]), oracleEncode(obj));
        assert.deepStrictEqual(decodeMessage(bytes), m);
      },
    ),
    { numRuns: 1_500 },
  );
});

test("reader: signed int forms and go-msgpack v2 pushPull header", T, () => {
  // {Join:false, Nodes:200, UserStateLen:70000} as memberlist >= 0.5.1 writes it.
  const bytes = hex(
    "83 a4 4a 6f 69 6e c2 a5 4e 6f 64 65 73 d1 00 c8 ac 55 73 65 72 53 74 61 74 65 4c 65 6e d2 00 01 11 70",
  );
  const r = new Reader(bytes);
  const got: Record<string, unknown> = {};
  for (let n = r.mapHeader(); n > 0; n--) {
    const k = r.key();
    got[k] = k === "Join" ? r.bool() : r.uint(U32_MAX);
  }
  assert.deepStrictEqual(got, { Join: false, Nodes: 200, UserStateLen: 70000 });
  assert.equal(r.pos, bytes.length);
  for (
    const [b, v] of [
      ["d0 05", 5],
      ["d1 00 c8", 200],
      ["d2 00 01 11 70", 70000],
      [
        "d3 00 00 00 00 00 00 00 07",
        7,
      ],
      ["cf 00 00 00 00 ff ff ff ff", U32_MAX],
      ["c0", 0],
    ] as const
  ) {
    assert.equal(new Reader(hex(b)).uint(U32_MAX), v, b);
  }
});

test("reader: liberal string, bytes and bool forms", T, () => {
  for (
    const form of [
      "a2 68 69",
      "d9 02 68 69",
      "da 00 02 68 69",
      "db 00 00 00 02 68 69",
      "c4 02 68 69",
      "c5 00 02 68 69",
      "c6 00 00 00 02 68 69",
    ]
  ) {
    assert.equal(new Reader(hex(form)).str(), "hi", form);
    assert.deepStrictEqual(new Reader(hex(form)).bytes(), utf8("hi"), form);
  }
  assert.equal(new Reader(hex("c0")).str(), "");
  assert.equal(new Reader(hex("c0")).bytes(), null);
  assert.deepStrictEqual(new Reader(hex("93 01 cc ff 00")).bytes(), new Uint8Array([1, 255, 0]));
  assert.deepStrictEqual(new Reader(hex("dc 00 01 07")).bytes(), new Uint8Array([7]));
  assert.deepStrictEqual(
    [hex("c3"), hex("c2"), hex("01"), hex("00"), hex("c0")].map((b) => new Reader(b).bool()),
    [true, false, true, false, false],
  );
  // A UTF-8 BOM is kept, invalid UTF-8 becomes U+FFFD.
  assert.equal(new Reader(hex("a4 ef bb bf 41")).str(), "\ufeffA");
  assert.equal(new Reader(hex("a2 ff 41")).str(), "\ufffdA");
});

test("reader: alive with Vsn as an array of small ints, missing Vsn, nil fields", T, () => {
  const base = {
    Addr: new Uint8Array([10, 0, 0, 1]),
    Incarnation: 9,
    Node: "n",
    Port: 1,
  };
  const withArray = concat(hex("04"), oracleEncode({ ...base, Vsn: [1, 5, 2, 0, 0, 0] }));
  assert.deepStrictEqual(decodeMessage(withArray), {
    type: "alive",
    incarnation: 9,
    node: "n",
    addr: new Uint8Array([10, 0, 0, 1]),
    port: 1,
    meta: null,
    vsn: new Uint8Array([1, 5, 2, 0, 0, 0]),
  });
  const missing = decodeMessage(concat(hex("04"), oracleEncode({ ...base, Meta: null })));
  assert.ok(missing.type === "alive");
  assert.equal(missing.vsn.length, 0);
  assert.equal(missing.meta, null);
  // An empty vsn re-encodes as nil, as Go re-encodes a missing one.
  assert.ok(toHex(encodeMessage(missing)).endsWith("a3 56 73 6e c0"));
  assertDecodeError(
    () => decodeMessage(concat(hex("04"), oracleEncode({ ...base, Vsn: [1, 5, 2] }))),
    "bad-field",
  );
  assertDecodeError(
    () => decodeMessage(concat(hex("04"), oracleEncode({ ...base, Vsn: [1, 5, 2, 0, 0, 0, 0] }))),
    "bad-field",
  );
  assertDecodeError(
    () => decodeMessage(concat(hex("04"), oracleEncode({ ...base, Vsn: [1, 5, 2, 0, 0, 256] }))),
    "bad-field",
  );
});

test("reader: range checks and error kinds", T, () => {
  const ping = (obj: unknown) => concat(hex("00"), oracleEncode(obj));
  assertDecodeError(() => decodeMessage(ping({ SeqNo: -1 })), "bad-field");
  assertDecodeError(() => decodeMessage(ping({ SeqNo: U32_MAX + 1 })), "bad-field");
  assertDecodeError(() => decodeMessage(ping({ SeqNo: 1.5 })), "bad-msgpack");
  assertDecodeError(() => decodeMessage(ping({ SeqNo: "1" })), "bad-msgpack");
  assertDecodeError(() => decodeMessage(ping({ SourcePort: U16_MAX + 1 })), "bad-field");
  assertDecodeError(() => decodeMessage(ping({ SourceAddr: new Uint8Array(5) })), "bad-field");
  assertDecodeError(() => decodeMessage(ping({ Node: 5 })), "bad-msgpack");
  assertDecodeError(() => decodeMessage(ping([1, 2])), "bad-msgpack");
  assertDecodeError(() => decodeMessage(hex("01 81 a4 4e 61 63 6b 02")), "bad-field");
  assertDecodeError(() => decodeMessage(hex("01 81 a4 4e 61 63 6b a0")), "bad-msgpack");
  assertDecodeError(() => decodeMessage(hex("00 81 c1 00")), "bad-msgpack");
  assertDecodeError(() => decodeMessage(hex("00 81 c0 00")), "bad-msgpack");
  assertDecodeError(() => decodeMessage(hex("00 81 a1 41 c1")), "bad-msgpack");
  assertDecodeError(() => decodeMessage(hex("00")), "truncated");
  assertDecodeError(() => decodeMessage(hex("00 82 a4 4e 6f 64 65")), "truncated");
  assertDecodeError(() => decodeMessage(hex("00 df ff ff ff ff")), "truncated");
  assertDecodeError(() => decodeMessage(hex("00 81 a1 41 dd ff ff ff ff 00")), "truncated");
  assertDecodeError(() => decodeMessage(hex("00 81 a1 41 db ff ff ff ff 00")), "truncated");
  assertDecodeError(() => decodeMessage(hex("00 81 a1 41 c9 ff ff ff ff 00")), "truncated");
  assertDecodeError(() => new Reader(hex("da ff")).str(), "truncated");
  // Nil and missing fields read as zero values; trailing bytes are ignored.
  assert.deepStrictEqual(decodeMessage(hex("00 82 a4 4e 6f 64 65 c0 a5 53 65 71 4e 6f c0 ff ff")), {
    type: "ping",
    seqNo: 0,
    node: "",
  });
  assert.deepStrictEqual(decodeMessage(hex("0b c0")), { type: "nack", seqNo: 0 });
});

test("reader: skip is depth-bounded and handles every type", T, () => {
  const deep = (depth: number) =>
    concat(hex("0b 81 a1 41"), new Uint8Array(depth).fill(0x91), hex("00"));
  assert.deepStrictEqual(decodeMessage(deep(MAX_SKIP_DEPTH)), { type: "nack", seqNo: 0 });
  assertDecodeError(() => decodeMessage(deep(MAX_SKIP_DEPTH + 1)), "too-deep");
  assertDecodeError(() => decodeMessage(deep(100_000)), "too-deep");
  // One of every msgpack type as values of unknown keys.
  const values = [
    "00",
    "ff",
    "c0",
    "c2",
    "c3",
    "cc 01",
    "cd 00 01",
    "ce 00 00 00 01",
    "cf 00 00 00 00 00 00 00 01",
    "d0 ff",
    "d1 ff ff",
    "d2 ff ff ff ff",
    "d3 ff ff ff ff ff ff ff ff",
    "ca 00 00 00 00",
    "cb 00 00 00 00 00 00 00 00",
    "a1 41",
    "d9 01 41",
    "da 00 01 41",
    "db 00 00 00 01 41",
    "c4 01 41",
    "c5 00 01 41",
    "c6 00 00 00 01 41",
    "d4 01 41",
    "d5 01 41 41",
    "d6 01 41 41 41 41",
    "d7 01 41 41 41 41 41 41 41 41",
    "d8 01 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41",
    "c7 01 05 41",
    "c8 00 01 05 41",
    "c9 00 00 00 01 05 41",
    "92 01 02",
    "dc 00 01 01",
    "dd 00 00 00 01 01",
    "81 a1 41 01",
    "de 00 01 a1 41 01",
    "df 00 00 00 01 a1 41 01",
  ];
  for (const v of values) {
    const bytes = concat(hex("0b 82 a1 58"), hex(v), hex("a5 53 65 71 4e 6f 07"));
    assert.deepStrictEqual(decodeMessage(bytes), { type: "nack", seqNo: 7 }, v);
    const r = new Reader(hex(v));
    r.skip();
    assert.equal(r.remaining, 0, v);
  }
});

test("reader: decode one object at an offset and report the new offset", T, () => {
  const a = encodeMessage({ type: "nack", seqNo: 1 } as Message);
  const b = encodeMessage({ type: "nack", seqNo: 300 } as Message);
  const buf = concat(a, b);
  const r = new Reader(buf, 1);
  r.skip();
  assert.equal(r.pos, a.length);
  assert.equal(buf[r.pos], 11);
  const r2 = new Reader(buf, a.length + 1);
  assert.equal(r2.mapHeader(), 1);
  assert.equal(r2.key(), "SeqNo");
  assert.equal(r2.uint(U32_MAX), 300);
  assert.equal(r2.pos, buf.length);
  // A Reader bounded before the end reports truncation rather than reading past it.
  assertDecodeError(() => new Reader(buf, a.length + 1, buf.length - 1).skip(), "truncated");
});
