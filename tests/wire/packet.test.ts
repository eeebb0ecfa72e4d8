/**
 * Datagram framing and the Codec: exact overhead, misuse errors, and every decode error kind.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DecodeError } from "../../src/core/codec.ts";
import type { Message } from "../../src/core/messages.ts";
import {
  createMemberlistCodec,
  decodePacket,
  encodeCompound,
  encodeCompress,
  encodeMessage,
  lzwCompress,
  MAX_COMPOUND_PARTS,
  memberlistCodec,
  wrapCrc,
  Writer,
} from "../../src/wire/mod.ts";
import { assertDecodeError, concat, hex, utf8 } from "./_helpers.ts";
import { arbMessage } from "./_arbitraries.ts";

const T = { timeout: 60_000 };
const nack = (seqNo: number) => encodeMessage({ type: "nack", seqNo });
const user = (payload: Uint8Array) => encodeMessage({ type: "user", payload });

test("codec: frame length is exactly sum + overhead (with and without CRC)", T, () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 200 }), {
        minLength: 1,
        maxLength: MAX_COMPOUND_PARTS,
      }),
      fc.boolean(),
      (parts, crc) => {
        const sum = parts.reduce((n, p) => n + p.length, 0);
        const framed = memberlistCodec.frame(parts, { crc });
        assert.equal(framed.length, sum + memberlistCodec.overhead(parts.length, { crc }));
      },
    ),
    { numRuns: 500 },
  );
  assert.equal(memberlistCodec.overhead(1), 0);
  assert.equal(memberlistCodec.overhead(1, { crc: true }), 5);
  assert.equal(memberlistCodec.overhead(2), 6);
  assert.equal(memberlistCodec.overhead(3, { crc: true }), 13);
});

test("codec: framed messages decode back, in order", T, () => {
  fc.assert(
    fc.property(
      fc.array(arbMessage, { minLength: 1, maxLength: 20 }),
      fc.boolean(),
      fc.boolean(),
      (messages, crc, compress) => {
        const codec = compress ? createMemberlistCodec({ compress: true }) : memberlistCodec;
        const parts = messages.map((m) => codec.encode(m));
        const framed = codec.frame(parts, { crc });
        const sum = parts.reduce((n, p) => n + p.length, 0);
        assert.ok(framed.length <= sum + codec.overhead(parts.length, { crc }));
        assert.deepStrictEqual(codec.decodePacket(framed), messages);
      },
    ),
    { numRuns: 300 },
  );
});

test("codec: a single part without CRC is sent as is", T, () => {
  const part = nack(1);
  assert.equal(memberlistCodec.frame([part]), part);
});

test("codec: compression is used only when strictly smaller", T, () => {
  const codec = createMemberlistCodec({ compress: true });
  const parts = Array.from(
    { length: 10 },
    (_, i) => codec.encode({ type: "suspect", incarnation: i, node: "node-b", from: "node-a" }),
  );
  const framed = codec.frame(parts);
  assert.equal(framed[0], 0x09);
  assert.ok(framed.length < memberlistCodec.frame(parts).length);
  const crcFramed = codec.frame(parts, { crc: true });
  assert.equal(crcFramed[0], 0x0c);
  assert.equal(crcFramed[5], 0x09);
  const small = [nack(1)];
  assert.equal(codec.frame(small)[0], 0x0b);
});

test("frame: misuse throws a plain Error", T, () => {
  const isPlain = (e: unknown) => e instanceof Error && !(e instanceof DecodeError);
  assert.throws(() => memberlistCodec.frame([]), isPlain);
  assert.throws(() => memberlistCodec.frame([new Uint8Array(0)]), isPlain);
  assert.throws(() => memberlistCodec.frame([nack(1), new Uint8Array(0)]), isPlain);
  assert.throws(() => memberlistCodec.frame(Array(128).fill(nack(1))), isPlain);
  assert.throws(() => memberlistCodec.frame([nack(1), new Uint8Array(65_536)]), isPlain);
  assert.throws(() => wrapCrc(new Uint8Array(0)), isPlain);
  assert.throws(() => encodeCompress(new Uint8Array(0)), isPlain);
  assert.throws(() => memberlistCodec.overhead(-1), isPlain);
  assert.throws(() => memberlistCodec.encode({ type: "nack", seqNo: -1 }), RangeError);
  assert.throws(
    () => memberlistCodec.encode({ type: "ping", seqNo: 1, node: "", sourcePort: 70000 }),
    RangeError,
  );
  assert.throws(
    () =>
      memberlistCodec.encode({
        type: "alive",
        incarnation: 1,
        node: "a",
        addr: new Uint8Array(4),
        port: 1,
        meta: null,
        vsn: new Uint8Array(3),
      }),
    RangeError,
  );
  assert.throws(
    () =>
      memberlistCodec.encode({
        type: "indirectPing",
        seqNo: 1,
        target: new Uint8Array(5),
        port: 1,
        node: "",
        nack: false,
      }),
    RangeError,
  );
  // 127 parts is fine.
  assert.equal(decodePacket(memberlistCodec.frame(Array(127).fill(nack(1)))).length, 127);
});

test("decode: omitempty source fields normalise to absent", T, () => {
  const w = new Writer();
  w.byte(0);
  w.mapHeader(5);
  w.str("Node");
  w.str("b");
  w.str("SeqNo");
  w.uint(1);
  w.str("SourceAddr");
  w.bin(new Uint8Array(0));
  w.str("SourceNode");
  w.str("");
  w.str("SourcePort");
  w.uint(0);
  const expected: Message = { type: "ping", seqNo: 1, node: "b" };
  assert.deepStrictEqual(decodePacket(w.finish()), [expected]);
  // Encoding omits them the same way.
  assert.deepStrictEqual(
    encodeMessage({
      type: "ping",
      seqNo: 1,
      node: "b",
      sourceAddr: new Uint8Array(0),
      sourcePort: 0,
      sourceNode: "",
    }),
    encodeMessage(expected),
  );
});

test("decode: datagram-level errors", T, () => {
  assertDecodeError(() => decodePacket(new Uint8Array(0)), "empty");
  const big = user(new Uint8Array(65_535));
  assert.equal(big.length, 65_536);
  assert.equal(decodePacket(big).length, 1);
  assertDecodeError(() => decodePacket(user(new Uint8Array(65_536))), "oversized");
  assertDecodeError(() => decodePacket(hex("f4 03 61 62 63 08")), "bad-label");
  for (const type of [6, 10, 13, 14, 100, 243, 245, 255]) {
    assertDecodeError(() => decodePacket(new Uint8Array([type, 0x80])), "unknown-type");
  }
});

test("decode: CRC layer", T, () => {
  const packet = wrapCrc(nack(5));
  assert.deepStrictEqual(decodePacket(packet), [{ type: "nack", seqNo: 5 }]);
  for (let i = 1; i < packet.length; i++) {
    const bad = packet.slice();
    bad[i] ^= 0x01;
    assertDecodeError(() => decodePacket(bad), "bad-crc");
  }
  assertDecodeError(() => decodePacket(hex("0c 00 00")), "truncated");
  // CRC of nothing is 0: a 5-byte CRC packet is empty inside.
  assertDecodeError(() => decodePacket(hex("0c 00 00 00 00")), "empty");
  // CRC is recognised only outermost.
  assertDecodeError(() => decodePacket(encodeCompound([packet, nack(1)])), "unknown-type");
  assertDecodeError(() => decodePacket(wrapCrc(packet)), "unknown-type");
});

test("decode: compound layer", T, () => {
  assert.deepStrictEqual(decodePacket(hex("07 00")), []);
  assert.deepStrictEqual(decodePacket(concat(encodeCompound([nack(1)]), hex("ff ff"))), [
    { type: "nack", seqNo: 1 },
  ]);
  assertDecodeError(() => decodePacket(hex("07")), "truncated");
  assertDecodeError(() => decodePacket(hex("07 02 00 01")), "truncated");
  assertDecodeError(() => decodePacket(hex("07 01 00 05 08 01")), "truncated");
  assertDecodeError(() => decodePacket(hex("07 02 00 01 00 00 08")), "empty");
  const many = new Uint8Array(2 + 2 * 128 + 128);
  many.set([7, 128]);
  for (let i = 0; i < 128; i++) {
    many[2 + 2 * i + 1] = 1;
    many[2 + 256 + i] = 8;
  }
  assertDecodeError(() => decodePacket(many), "too-many-parts");
  assert.equal(decodePacket(encodeCompound(Array(127).fill(hex("08")))).length, 127);
  assertDecodeError(() => decodePacket(hex("07 ff")), "too-many-parts");
});

test("decode: nesting depth is bounded", T, () => {
  let packet = nack(1);
  for (let depth = 1; depth <= 4; depth++) {
    packet = depth % 2 ? encodeCompound([packet]) : encodeCompress(packet);
    assert.deepStrictEqual(decodePacket(packet), [{ type: "nack", seqNo: 1 }], `depth ${depth}`);
  }
  assertDecodeError(() => decodePacket(encodeCompound([packet])), "too-deep");
  assertDecodeError(() => decodePacket(encodeCompress(packet)), "too-deep");
  const deeper = createMemberlistCodec({ maxDepth: 5 });
  assert.equal(deeper.decodePacket(encodeCompound([packet])).length, 1);
});

test("decode: compress layer", T, () => {
  const compressWith = (fields: (w: Writer) => void, n: number) => {
    const w = new Writer();
    w.byte(9);
    w.mapHeader(n);
    fields(w);
    return w.finish();
  };
  const stream = lzwCompress(nack(3));
  const ok = compressWith((w) => (w.str("Buf"), w.bin(stream), w.str("Zzz"), w.uint(1)), 2);
  assert.deepStrictEqual(decodePacket(ok), [{ type: "nack", seqNo: 3 }]);
  const noAlgo = compressWith((w) => (w.str("Buf"), w.bin(stream)), 1);
  assert.deepStrictEqual(decodePacket(noAlgo), [{ type: "nack", seqNo: 3 }]);
  const algo1 = compressWith((w) => (w.str("Algo"), w.uint(1), w.str("Buf"), w.bin(stream)), 2);
  assertDecodeError(() => decodePacket(algo1), "bad-compression");
  const algo256 = compressWith((w) => (w.str("Algo"), w.uint(256)), 1);
  assertDecodeError(() => decodePacket(algo256), "bad-field");
  assertDecodeError(() => decodePacket(compressWith(() => {}, 0)), "bad-compression");
  const nilBuf = compressWith((w) => (w.str("Buf"), w.nil()), 1);
  assertDecodeError(() => decodePacket(nilBuf), "bad-compression");
  const empty = compressWith((w) => (w.str("Buf"), w.bin(lzwCompress(new Uint8Array(0)))), 1);
  assertDecodeError(() => decodePacket(empty), "empty");
  const badStream = compressWith((w) => (w.str("Buf"), w.bin(stream.subarray(0, 3))), 1);
  assertDecodeError(() => decodePacket(badStream), "bad-compression");
  assertDecodeError(() => decodePacket(hex("09")), "truncated");
  assertDecodeError(() => decodePacket(hex("09 a0")), "bad-msgpack");
});

test("decode: decompression budget is per packet, across all compress layers", T, () => {
  // 600 KiB of user payload compresses to a few KiB; two of them exceed 1 MiB in total.
  const payload = user(new Uint8Array(600 * 1024).fill(0x61));
  const one = encodeCompress(payload);
  assert.ok(one.length < 10_000);
  assert.equal(decodePacket(one).length, 1);
  assertDecodeError(() => decodePacket(encodeCompound([one, one])), "bad-compression");
  const roomy = createMemberlistCodec({ maxDecompressed: 2 << 20 });
  assert.equal(roomy.decodePacket(encodeCompound([one, one])).length, 2);
  const tight = createMemberlistCodec({ maxDecompressed: 1000 });
  assertDecodeError(() => tight.decodePacket(one), "bad-compression");
  assert.equal(tight.decodePacket(encodeCompress(user(utf8("hello")))).length, 1);
});

test("a packet carries at most 512 messages, all layers together (the user-message bomb)", () => {
  const nack = memberlistCodec.encode({ type: "nack", seqNo: 1 });
  const inner = memberlistCodec.frame(Array(127).fill(nack));
  const five = memberlistCodec.frame(Array(5).fill(inner));
  assert.throws(
    () => decodePacket(five),
    (e: unknown) => e instanceof DecodeError && e.kind === "too-many-parts",
  );
  const four = memberlistCodec.frame(Array(4).fill(inner));
  assert.equal(decodePacket(four).length, 508);
  assert.throws(() => decodePacket(four, { maxMessages: 100 }), DecodeError);
});
