/**
 * Property-based fuzzing of the packet decoder with fast-check: 101 000 cases per run.
 *
 * 1. random bytes → messages or DecodeError, never anything else;
 * 2. valid packets (compounds, CRC, compression) mutated by flips, truncation, insertion → same;
 * 3. arbitrary messages round-trip exactly through encode/frame/decode;
 * 4. hostile shapes (deep nesting, huge declared lengths, 128+ parts, compression bombs)
 *    are rejected with the right kind;
 * 5. random and mutated encrypted, labelled packets, through the node's path (packet security
 *    `open`, then the codec), give messages or DecodeError, never anything else.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DecodeError, type DecodeErrorKind } from "../../src/core/codec.ts";
import type { Message } from "../../src/core/messages.ts";
import { encryptPayload } from "../../src/wire/encryption.ts";
import { Keyring } from "../../src/wire/keyring.ts";
import { addLabelHeader, encodeLabel } from "../../src/wire/label.ts";
import { createPacketSecurity, type PacketSecurity } from "../../src/wire/packet_security.ts";
import {
  createMemberlistCodec,
  decodePacket,
  encodeCompound,
  encodeCompress,
  encodeMessage,
  memberlistCodec,
  wrapCrc,
  Writer,
} from "../../src/wire/mod.ts";
import { concat } from "./_helpers.ts";
import { arbMessage } from "./_arbitraries.ts";

const T = { timeout: 120_000 };
const KINDS = new Set<DecodeErrorKind>([
  "empty",
  "truncated",
  "oversized",
  "unknown-type",
  "bad-msgpack",
  "bad-field",
  "bad-crc",
  "bad-compression",
  "too-deep",
  "too-many-parts",
  "bad-label",
  "decrypt-failed",
]);
const TYPES = new Set(["ping", "indirectPing", "ack", "nack", "suspect", "alive", "dead", "user"]);

let cases = 0;

/**
 * Decode hostile bytes: must return messages (which must survive re-encoding unchanged) or
 * throw a DecodeError with a known kind. Returns the kind, or null on success.
 */
function decodeSafely(bytes: Uint8Array): DecodeErrorKind | null {
  cases++;
  let messages: Message[];
  try {
    messages = decodePacket(bytes);
  } catch (e) {
    if (!(e instanceof DecodeError)) throw new Error(`non-DecodeError thrown: ${e}`);
    assert.ok(KINDS.has(e.kind), e.kind);
    return e.kind;
  }
  assert.ok(Array.isArray(messages));
  for (const m of messages) {
    assert.ok(TYPES.has(m.type), m.type);
    // Whatever the decoder accepts is valid enough to encode, and decodes back unchanged.
    assert.deepStrictEqual(decodePacket(encodeMessage(m)), [m]);
  }
  return null;
}

const framingByte = fc.constantFrom(0, 1, 2, 3, 4, 5, 7, 8, 9, 11, 12, 13, 0xf4);

test("fuzz 1: random bytes decode to messages or throw DecodeError", T, () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => void decodeSafely(b)), {
    numRuns: 25_000,
  });
  // Start with a real type byte (and often a map header) to get past the first check.
  fc.assert(
    fc.property(
      framingByte,
      fc.constantFrom([], [0x81], [0x82], [0x83], [0x86], [0x88], [0x02]),
      fc.uint8Array({ maxLength: 200 }),
      (type, head, rest) => void decodeSafely(concat(new Uint8Array([type, ...head]), rest)),
    ),
    { numRuns: 20_000 },
  );
});

/** A valid packet: 1–8 messages, optionally compound-nested, compressed and CRC-wrapped. */
const arbPacket: fc.Arbitrary<Uint8Array> = fc.record({
  messages: fc.array(arbMessage, { minLength: 1, maxLength: 8 }),
  nest: fc.boolean(),
  compress: fc.boolean(),
  crc: fc.boolean(),
}).map(({ messages, nest, compress, crc }) => {
  const parts = messages.map(encodeMessage);
  let inner = parts.length === 1 ? parts[0] : encodeCompound(parts);
  if (nest) inner = encodeCompound([inner, parts[0]]);
  if (compress) inner = encodeCompress(inner);
  return crc ? wrapCrc(inner) : inner;
});

type Mutation =
  | { op: "flip"; at: number; bit: number }
  | { op: "set"; at: number; value: number }
  | { op: "truncate"; at: number }
  | { op: "insert"; at: number; bytes: Uint8Array }
  | { op: "delete"; at: number; count: number };

const arbMutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ op: fc.constant("set" as const), at: fc.nat(), value: fc.nat(255) }),
  fc.record({ op: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({
    op: fc.constant("insert" as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  }),
  fc.record({
    op: fc.constant("delete" as const),
    at: fc.nat(),
    count: fc.integer({ min: 1, max: 8 }),
  }),
);

function mutate(bytes: Uint8Array, mutations: Mutation[]): Uint8Array {
  let b: Uint8Array = bytes.slice();
  for (const m of mutations) {
    const at = b.length === 0 ? 0 : m.at % (b.length + (m.op === "insert" ? 1 : 0));
    switch (m.op) {
      case "flip":
        if (b.length) b[at] ^= 1 << m.bit;
        break;
      case "set":
        if (b.length) b[at] = m.value;
        break;
      case "truncate":
        b = b.slice(0, at);
        break;
      case "insert":
        b = concat(b.subarray(0, at), m.bytes, b.subarray(at));
        break;
      case "delete":
        b = concat(b.subarray(0, at), b.subarray(at + m.count));
        break;
    }
  }
  return b;
}

test("fuzz 2: mutated valid packets decode to messages or throw DecodeError", T, () => {
  fc.assert(
    fc.property(arbPacket, fc.array(arbMutation, { minLength: 1, maxLength: 4 }), (p, muts) => {
      decodeSafely(mutate(p, muts));
    }),
    { numRuns: 30_000 },
  );
});

test("fuzz 3: arbitrary messages round-trip exactly", T, () => {
  fc.assert(
    fc.property(fc.array(arbMessage, { minLength: 1, maxLength: 6 }), fc.boolean(), (ms, crc) => {
      cases++;
      if (ms.length === 1) assert.deepStrictEqual(decodePacket(encodeMessage(ms[0])), ms);
      const framed = memberlistCodec.frame(ms.map((m) => memberlistCodec.encode(m)), { crc });
      assert.deepStrictEqual(memberlistCodec.decodePacket(framed), ms);
    }),
    { numRuns: 20_000 },
  );
});

// Compression bombs: small packets that expand past the 1 MiB per-packet budget.
const bombs = [1.5, 3, 8].map((mib) => {
  const inner = new Uint8Array(mib * (1 << 20)).fill(8); // a run of user type bytes
  return encodeCompress(inner);
});

function expectKind(bytes: Uint8Array, kind: DecodeErrorKind): void {
  assert.equal(decodeSafely(bytes), kind);
}

test("fuzz 4: hostile shapes are rejected with the right kind", T, () => {
  const leaf = encodeMessage({ type: "nack", seqNo: 1 });
  // Deep nesting of compound/compress layers.
  fc.assert(
    fc.property(
      fc.array(fc.boolean(), { minLength: 5, maxLength: 40 }),
      fc.boolean(),
      (layers, crc) => {
        let p = leaf;
        for (const compound of layers) p = compound ? encodeCompound([p]) : encodeCompress(p);
        expectKind(crc ? wrapCrc(p) : p, "too-deep");
      },
    ),
    { numRuns: 1_500 },
  );
  // Huge declared lengths inside message bodies (str32, bin32, array32, map32, ext32).
  fc.assert(
    fc.property(
      fc.constantFrom(0, 1, 2, 3, 4, 5, 11),
      fc.constantFrom(0xdb, 0xc6, 0xdd, 0xdf, 0xc9),
      fc.integer({ min: 0x1000, max: 0xffff_ffff }),
      fc.uint8Array({ maxLength: 50 }),
      (type, marker, len, tail) => {
        const body = concat(
          new Uint8Array([type, 0x81, 0xa1, 0x58, marker]),
          new Uint8Array([len >>> 24, len >>> 16, len >>> 8, len]),
          tail,
        );
        expectKind(body, "truncated");
        const huge = concat(new Uint8Array([type, 0xdf]), body.subarray(5, 9), tail);
        expectKind(huge, "truncated");
      },
    ),
    { numRuns: 1_500 },
  );
  // 128..255 parts, whatever follows.
  fc.assert(
    fc.property(
      fc.integer({ min: 128, max: 255 }),
      fc.uint8Array({ maxLength: 600 }),
      (n, rest) => {
        expectKind(concat(new Uint8Array([7, n]), rest), "too-many-parts");
      },
    ),
    { numRuns: 1_500 },
  );
  // Bombs, bare, CRC-wrapped, inside compounds, or several small ones adding up.
  fc.assert(
    fc.property(fc.constantFrom(...bombs), fc.nat(3), (bomb, wrap) => {
      const p = wrap === 0
        ? bomb
        : wrap === 1
        ? wrapCrc(bomb)
        : wrap === 2
        ? encodeCompound([leaf, bomb])
        : encodeCompress(encodeCompound([bomb, leaf]));
      expectKind(p, "bad-compression");
    }),
    { numRuns: 100 },
  );
  const third = encodeCompress(new Uint8Array(400 * 1024).fill(8));
  const [big] = decodePacket(third); // one user message: 0x08 then 400 KiB - 1 of payload
  assert.ok(big.type === "user" && big.payload.length === 400 * 1024 - 1);
  expectKind(encodeCompound([third, third, third]), "bad-compression");
  // Random bytes as the LZW stream of a well-formed compress message.
  const w = new Writer();
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (junk) => {
      w.reset();
      w.byte(9);
      w.mapHeader(2);
      w.str("Algo");
      w.uint(0);
      w.str("Buf");
      w.bin(junk);
      decodeSafely(w.finish());
    }),
    { numRuns: 1_400 },
  );
});

const KEYS = [16, 24, 32].map((n, i) => new Uint8Array(n).fill(0x21 + i));
const LABEL = "fuzz";
const LABEL_BYTES = encodeLabel(LABEL);
const keyring = new Keyring(KEYS[0], KEYS.slice(1));
/** What the node builds: three keys and a label, strict, lax and label-optional variants. */
const securities: PacketSecurity[] = [
  createPacketSecurity({ keyring, label: LABEL }),
  createPacketSecurity({ keyring, label: LABEL, verifyIncoming: false }),
  createPacketSecurity({ keyring, label: LABEL, skipInboundLabelCheck: true }),
];
const nodeCodec = createMemberlistCodec({ compress: true });
const OPEN_KINDS = new Set<DecodeErrorKind>(["bad-label", "decrypt-failed"]);

/**
 * The node's receive path: `open`, then decode. `open` may only reject with a DecodeError of
 * a security kind; what it yields must decode safely. Returns the kind, or null on success.
 */
async function receiveSafely(sec: PacketSecurity, bytes: Uint8Array): Promise<string | null> {
  let plain: Uint8Array;
  try {
    plain = await sec.open(bytes);
  } catch (e) {
    cases++;
    if (!(e instanceof DecodeError)) throw new Error(`open: non-DecodeError: ${e}`);
    assert.ok(OPEN_KINDS.has(e.kind), e.kind);
    return e.kind;
  }
  const kind = decodeSafely(plain);
  if (kind === null) nodeCodec.decodePacket(plain); // the node's codec agrees
  else assert.throws(() => nodeCodec.decodePacket(plain), DecodeError);
  return kind;
}

const arbSecurity = fc.constantFrom(...securities);
/** Another label, a broken header, ours, or none. */
const arbHeader: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.constant(new Uint8Array(0)),
  fc.constant(addLabelHeader(LABEL_BYTES, new Uint8Array(0))),
  fc.string({ minLength: 1, maxLength: 20 }).map((l) =>
    addLabelHeader(encodeLabel(l), new Uint8Array(0))
  ),
  fc.uint8Array({ maxLength: 3 }).map((b) => concat(new Uint8Array([0xf4]), b)),
);
/** A key of the ring, or a stranger's. */
const arbKeyring: fc.Arbitrary<Keyring> = fc.oneof(
  fc.constantFrom(...KEYS.map((k) => new Keyring(k))),
  fc.uint8Array({ minLength: 16, maxLength: 16 }).map((k) => new Keyring(k)),
);
const arbVersion = fc.constantFrom(0 as const, 1 as const);

test("fuzz 5: random encrypted, labelled datagrams open and decode safely", T, async () => {
  // Random bytes behind any header, often with a version byte in front.
  await fc.assert(
    fc.asyncProperty(
      arbSecurity,
      arbHeader,
      fc.option(fc.nat(3), { nil: undefined }),
      fc.uint8Array({ maxLength: 400 }),
      async (sec, header, version, rest) => {
        const body = version === undefined ? rest : concat(new Uint8Array([version]), rest);
        await receiveSafely(sec, concat(header, body));
      },
    ),
    { numRuns: 3_000 },
  );
  // Random plaintext sealed under a ring key or a stranger's, either version, any header.
  await fc.assert(
    fc.asyncProperty(
      arbSecurity,
      arbHeader,
      arbKeyring,
      arbVersion,
      fc.uint8Array({ maxLength: 300 }),
      async (sec, header, ring, version, plain) => {
        const blob = await encryptPayload(ring, plain, { version, aad: LABEL_BYTES });
        await receiveSafely(sec, concat(header, blob));
      },
    ),
    { numRuns: 3_000 },
  );
});

test("fuzz 6: mutated sealed packets open and decode safely", T, async () => {
  const strict = securities[0];
  await fc.assert(
    fc.asyncProperty(
      arbPacket,
      fc.nat(2),
      arbVersion,
      fc.array(arbMutation, { maxLength: 4 }),
      arbSecurity,
      async (packet, key, version, muts, sec) => {
        const sealed = addLabelHeader(
          LABEL_BYTES,
          await encryptPayload(new Keyring(KEYS[key]), packet, { version, aad: LABEL_BYTES }),
        );
        if (muts.length === 0) {
          assert.deepEqual(await strict.open(sealed), packet); // every ring key opens it
          assert.equal(await receiveSafely(sec, sealed), null);
        } else await receiveSafely(sec, mutate(sealed, muts));
      },
    ),
    { numRuns: 4_000 },
  );
});

test("fuzz: case count", T, () => {
  // 25k + 20k + 30k + 20k + 1.5k + 1.5k×2 + 1.5k + 100 + 1.4k + 3k×2 + 4k ≥ 100 000.
  assert.ok(cases >= 100_000, `${cases} cases`);
  console.log(`wire fuzz: ${cases} decode cases`);
});
