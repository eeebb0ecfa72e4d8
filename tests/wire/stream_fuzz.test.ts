/**
 * Property-based fuzzing of the new decoders with fast-check, in the spirit of fuzz.test.ts:
 *
 * 1. random bytes as a stream message (acceptor and dialer, with and without keys, with and
 *    without a label) → a message or a DecodeError, never anything else;
 * 2. valid framed push/pulls (compressed, encrypted, labelled) mutated → the same;
 * 3. arbitrary stream messages round-trip exactly through every framing, and read the same
 *    off a connection that delivers them in random chunks;
 * 4. random and tampered ciphertexts, wrong keys and garbled labels → decrypt-failed /
 *    bad-label only, through decryptPayload and the packet security layer.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DecodeError, type DecodeErrorKind } from "../../src/core/codec.ts";
import type { NodeState } from "../../src/core/messages.ts";
import { MemoryStreamNetwork, type StreamConn } from "../../src/transport/mod.ts";
import {
  createPacketSecurity,
  decodeStreamMessage,
  decryptPayload,
  encodeStreamMessage,
  encryptPayload,
  Keyring,
  readStreamMessage,
  type StreamMessage,
  type StreamReadOptions,
  type StreamWriteOptions,
} from "../../src/wire/mod.ts";
import { arbIp, arbName } from "./_arbitraries.ts";
import { concat } from "./_helpers.ts";

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

const KEY = new TextEncoder().encode("0123456789abcdef");
const keyring = new Keyring(KEY);
const otherRing = new Keyring(new Uint8Array(32).fill(3));

/** Decode hostile bytes: a stream message, or a DecodeError of a known kind. */
async function decodeSafely(
  bytes: Uint8Array,
  options: StreamReadOptions,
): Promise<DecodeErrorKind | null> {
  let m: StreamMessage;
  try {
    m = await decodeStreamMessage(bytes, { maxDecompressedBytes: 1 << 20, ...options });
  } catch (e) {
    if (!(e instanceof DecodeError)) throw new Error(`non-DecodeError thrown: ${e}`);
    assert.ok(KINDS.has(e.kind), e.kind);
    return e.kind;
  }
  assert.ok(["pushPull", "ping", "ack", "user", "err"].includes(m.type), m.type);
  return null;
}

const readOptions: fc.Arbitrary<StreamReadOptions> = fc.record({
  side: fc.constantFrom("acceptor" as const, "dialer" as const),
  keyring: fc.constantFrom(undefined, keyring),
  label: fc.constantFrom(undefined, "prod"),
  verifyIncoming: fc.boolean(),
});

const streamStart = fc.constantFrom(0, 2, 6, 8, 9, 10, 13, 0xf4);

test("stream fuzz 1: random bytes decode or throw DecodeError", T, async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), readOptions, async (b, o) => {
      await decodeSafely(b, o);
    }),
    { numRuns: 15_000 },
  );
  await fc.assert(
    fc.asyncProperty(
      streamStart,
      fc.constantFrom([], [0x81], [0x83], [0x87], [0x00, 0x00, 0x00, 0x40], [0x04, 0x70]),
      fc.uint8Array({ maxLength: 200 }),
      readOptions,
      async (type, head, rest, o) => {
        await decodeSafely(concat(new Uint8Array([type, ...head]), rest), o);
      },
    ),
    { numRuns: 15_000 },
  );
});

const vsn = fc.oneof(
  fc.constant(new Uint8Array([1, 5, 2, 0, 0, 0])),
  fc.uint8Array({ minLength: 6, maxLength: 6 }),
);
const arbState: fc.Arbitrary<NodeState> = fc.record({
  name: arbName,
  addr: arbIp,
  port: fc.nat({ max: 0xffff }),
  meta: fc.option(fc.uint8Array({ maxLength: 64 }), { nil: null }),
  incarnation: fc.nat({ max: 0xffff_ffff }),
  state: fc.constantFrom(0 as const, 1 as const, 2 as const, 3 as const),
  vsn,
}, { noNullPrototype: true });

const arbStreamMessage: fc.Arbitrary<StreamMessage> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      type: fc.constant("pushPull" as const),
      join: fc.boolean(),
      states: fc.array(arbState, { maxLength: 12 }),
      userState: fc.uint8Array({ maxLength: 100 }),
    }, { noNullPrototype: true }),
  },
  fc.record({
    type: fc.constant("ping" as const),
    seqNo: fc.nat({ max: 0xffff_ffff }),
    node: arbName,
  }, { noNullPrototype: true }),
  fc.record({
    type: fc.constant("ack" as const),
    seqNo: fc.nat({ max: 0xffff_ffff }),
    payload: fc.option(fc.uint8Array({ maxLength: 40 }), { nil: null }),
  }, { noNullPrototype: true }),
  fc.record({ type: fc.constant("user" as const), payload: fc.uint8Array({ maxLength: 200 }) }, {
    noNullPrototype: true,
  }),
  fc.record({ type: fc.constant("err" as const), error: arbName }, { noNullPrototype: true }),
);

const arbFraming: fc.Arbitrary<Omit<StreamWriteOptions, "side">> = fc.record({
  compress: fc.boolean(),
  keyring: fc.constantFrom(undefined, keyring),
  label: fc.constantFrom(undefined, "prod"),
  encryptionVersion: fc.constantFrom(0 as const, 1 as const),
});

type Mutation = { at: number; op: "flip" | "cut" | "insert" | "set"; value: number };
const arbMutation: fc.Arbitrary<Mutation> = fc.record({
  at: fc.nat(),
  op: fc.constantFrom("flip" as const, "cut" as const, "insert" as const, "set" as const),
  value: fc.nat(255),
});

function mutate(bytes: Uint8Array, mutations: Mutation[]): Uint8Array {
  let b: Uint8Array = bytes.slice();
  for (const m of mutations) {
    const at = b.length === 0 ? 0 : m.at % b.length;
    if (m.op === "flip" && b.length) b[at] ^= 1 << (m.value & 7);
    else if (m.op === "set" && b.length) b[at] = m.value;
    else if (m.op === "cut") b = b.slice(0, at);
    else if (m.op === "insert") {
      b = concat(b.subarray(0, at), new Uint8Array([m.value]), b.subarray(at));
    }
  }
  return b;
}

test("stream fuzz 2: mutated framed messages decode or throw DecodeError", T, async () => {
  await fc.assert(
    fc.asyncProperty(
      arbStreamMessage,
      arbFraming,
      fc.array(arbMutation, { minLength: 1, maxLength: 3 }),
      async (m, f, muts) => {
        const bytes = await encodeStreamMessage(m, { side: "dialer", ...f });
        await decodeSafely(mutate(bytes, muts), { side: "acceptor", ...f });
      },
    ),
    { numRuns: 4_000 },
  );
});

test("stream fuzz 3: stream messages round-trip, whole and in random chunks", T, async () => {
  await fc.assert(
    fc.asyncProperty(arbStreamMessage, arbFraming, async (m, f) => {
      const bytes = await encodeStreamMessage(m, { side: "dialer", ...f });
      assert.deepStrictEqual(await decodeStreamMessage(bytes, { side: "acceptor", ...f }), m);
    }),
    { numRuns: 3_000 },
  );
  // Off a connection: the same bytes, cut into random chunks, read incrementally.
  await fc.assert(
    fc.asyncProperty(
      arbStreamMessage,
      arbFraming,
      fc.integer({ min: 1, max: 64 }),
      async (m, f, chunkSize) => {
        const net = new MemoryStreamNetwork({ chunkSize });
        let accepted: StreamConn | undefined;
        const l = net.listen({ host: "10.0.0.1", port: 1, onConnection: (c) => (accepted = c) });
        const dialer = await net.dial("10.0.0.2", l.local, 1000);
        await dialer.write(await encodeStreamMessage(m, { side: "dialer", ...f }));
        while (!accepted) await new Promise((r) => setTimeout(r, 0));
        const got = await readStreamMessage(accepted, { side: "acceptor", timeoutMs: 5000, ...f });
        assert.deepStrictEqual(got, m);
        await l.close();
        await dialer.close();
      },
    ),
    { numRuns: 400 },
  );
});

test("stream fuzz 4: ciphertexts, keys and labels only ever fail cleanly", T, async () => {
  const expectKind = async (p: Promise<unknown>, kinds: DecodeErrorKind[]) => {
    try {
      await p;
      return null;
    } catch (e) {
      if (!(e instanceof DecodeError)) throw new Error(`non-DecodeError thrown: ${e}`);
      assert.ok(kinds.includes(e.kind), e.kind);
      return e.kind;
    }
  };
  // Random blobs: version byte 0/1/other, any length around the minimum sizes.
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(0, 1, 2, 255),
      fc.uint8Array({ maxLength: 120 }),
      async (v, rest) => {
        const kind = await expectKind(
          decryptPayload(keyring, concat(new Uint8Array([v]), rest)),
          ["decrypt-failed"],
        );
        assert.equal(kind, "decrypt-failed");
      },
    ),
    { numRuns: 3_000 },
  );
  // Real ciphertexts, tampered or under the wrong key: never accepted.
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ maxLength: 300 }),
      fc.constantFrom(0 as const, 1 as const),
      fc.array(arbMutation, { minLength: 1, maxLength: 2 }),
      async (pt, version, muts) => {
        const blob = await encryptPayload(keyring, pt, { version });
        assert.deepStrictEqual(await decryptPayload(keyring, blob), pt);
        assert.equal(
          await expectKind(decryptPayload(otherRing, blob), ["decrypt-failed"]),
          "decrypt-failed",
        );
        const bad = mutate(blob, muts);
        const kind = await expectKind(decryptPayload(keyring, bad), ["decrypt-failed"]);
        // Only an unchanged blob opens, except that the version byte is not authenticated
        // (in memberlist either): flipping 0 ↔ 1 still decrypts, padding and all.
        if (kind === null) assert.deepStrictEqual(bad.subarray(1), blob.subarray(1));
      },
    ),
    { numRuns: 2_000 },
  );
  // The packet layer: random and mutated datagrams, every configuration.
  const configs = [
    createPacketSecurity({ keyring }),
    createPacketSecurity({ keyring, label: "prod" }),
    createPacketSecurity({ label: "prod" }),
    createPacketSecurity({ keyring, verifyIncoming: false }),
  ];
  await fc.assert(
    fc.asyncProperty(
      fc.nat(configs.length - 1),
      fc.uint8Array({ maxLength: 200 }),
      fc.boolean(),
      fc.array(arbMutation, { maxLength: 2 }),
      async (i, payload, seal, muts) => {
        const sec = configs[i];
        const wire = seal ? mutate(await sec.seal(payload), muts) : payload;
        await expectKind(sec.open(wire), ["decrypt-failed", "bad-label"]);
      },
    ),
    { numRuns: 3_000 },
  );
});

/** A connection stub handing out `bytes` in `size`-byte chunks, then EOF. */
function chunkedConn(bytes: Uint8Array, size: number): StreamConn {
  let at = 0;
  return {
    remote: { host: "127.0.0.1", port: 1 },
    closed: false,
    read: () => {
      if (at >= bytes.length) return Promise.resolve(null);
      at += size;
      return Promise.resolve(bytes.slice(at - size, at));
    },
    write: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}

test("stream fuzz 5: read in chunks, mutated messages end as whole decoding does", T, async () => {
  const outcome = (p: Promise<StreamMessage>) =>
    p.then((m) => JSON.stringify(m), (e) => (e instanceof DecodeError ? e.kind : `${e}`));
  await fc.assert(
    fc.asyncProperty(
      arbStreamMessage,
      arbFraming,
      fc.array(arbMutation, { minLength: 1, maxLength: 3 }),
      fc.integer({ min: 1, max: 64 }),
      async (m, f, muts, size) => {
        const bytes = mutate(await encodeStreamMessage(m, { side: "dialer", ...f }), muts);
        const options = { side: "acceptor" as const, maxDecompressedBytes: 1 << 20, ...f };
        assert.equal(
          await outcome(readStreamMessage(chunkedConn(bytes, size), options)),
          await outcome(decodeStreamMessage(bytes, options)),
        );
      },
    ),
    { numRuns: 3_000 },
  );
  // Random msgpack-ish bytes after a push/pull header: containers, c1, ext, deep nesting.
  const header = [0x06, 0x83, 0xa5, 0x4e, 0x6f, 0x64, 0x65, 0x73, 0x02, 0xa4, 0x4a, 0x6f, 0x69];
  const piece = fc.oneof(
    fc.constantFrom(0x81, 0x82, 0x87, 0x91, 0x93, 0xc1, 0xc0, 0xa4, 0xdc, 0xde, 0xc7, 0xd4),
    fc.nat(255),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(piece, { maxLength: 120 }), fc.nat({ max: 16 }), async (b, s) => {
      const bytes = new Uint8Array([...header, 0x6e, 0xc3, ...b]);
      assert.equal(
        await outcome(readStreamMessage(chunkedConn(bytes, s + 1), { side: "acceptor" })),
        await outcome(decodeStreamMessage(bytes, { side: "acceptor" })),
      );
    }),
    { numRuns: 5_000 },
  );
});
