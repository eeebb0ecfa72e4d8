/**
 * Every packet vector of protocol.md §16.1–16.4 (produced by the real Go 0.2.2 encoder): encode to
 * the exact bytes, and decode back to an equal message.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import type { Message } from "../../src/core/messages.ts";
import {
  createMemberlistCodec,
  decodeErrResp,
  decodePacket,
  encodeCompound,
  encodeCompress,
  encodeErrResp,
  encodeMessage,
  lzwCompress,
  lzwDecompress,
  memberlistCodec,
  wrapCrc,
} from "../../src/wire/mod.ts";
import { assertDecodeError, concat, hex, toHex, utf8 } from "./_helpers.ts";

const T = { timeout: 20_000 };

const localhost = new Uint8Array([127, 0, 0, 1]);
const vsn = new Uint8Array([1, 5, 2, 0, 0, 0]);

const PING = hex(`
  00 85
  a4 4e 6f 64 65 a6 6e 6f 64 65 2d 62
  a5 53 65 71 4e 6f 01
  aa 53 6f 75 72 63 65 41 64 64 72 a4 7f 00 00 01
  aa 53 6f 75 72 63 65 4e 6f 64 65 a6 6e 6f 64 65 2d 61
  aa 53 6f 75 72 63 65 50 6f 72 74 cd 1f 0a`);

const ALIVE = hex(`
  04 86
  a4 41 64 64 72 a4 7f 00 00 01
  ab 49 6e 63 61 72 6e 61 74 69 6f 6e 01
  a4 4d 65 74 61 c0
  a4 4e 6f 64 65 a6 6e 6f 64 65 2d 61
  a4 50 6f 72 74 cd 1f 0a
  a3 56 73 6e a6 01 05 02 00 00 00`);

const SUSPECT = hex(
  "03 83 a4 46 72 6f 6d a6 6e 6f 64 65 2d 61 ab 49 6e 63 61 72 6e 61 74 69 6f 6e 03 a4 4e 6f 64 65 a6 6e 6f 64 65 2d 62",
);

const pingMsg: Message = {
  type: "ping",
  seqNo: 1,
  node: "node-b",
  sourceAddr: localhost,
  sourcePort: 7946,
  sourceNode: "node-a",
};
const aliveMsg: Message = {
  type: "alive",
  incarnation: 1,
  node: "node-a",
  addr: localhost,
  port: 7946,
  meta: null,
  vsn,
};
const suspectMsg: Message = { type: "suspect", incarnation: 3, node: "node-b", from: "node-a" };

/** [name, message, exact Go bytes] for every single-message vector. */
const singles: [string, Message, Uint8Array][] = [
  ["ping §16.1 (69 bytes)", pingMsg, PING],
  [
    "ping without optional fields (23 bytes)",
    { type: "ping", seqNo: 300, node: "node-b" },
    hex("00 82 a4 4e 6f 64 65 a6 6e 6f 64 65 2d 62 a5 53 65 71 4e 6f cd 01 2c"),
  ],
  ["alive §16.2 (62 bytes)", aliveMsg, ALIVE],
  [
    "alive with IPv4-mapped address and meta (82 bytes)",
    {
      type: "alive",
      incarnation: 2,
      node: "node-a",
      addr: new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 1, 10]),
      port: 7946,
      meta: utf8("role=web"),
      vsn,
    },
    hex(
      `04 86 a4 41 64 64 72 b0 00 00 00 00 00 00 00 00 00 00 ff ff c0 a8 01 0a ab 49 6e 63 61 72 6e 61
      74 69 6f 6e 02 a4 4d 65 74 61 a8 72 6f 6c 65 3d 77 65 62 a4 4e 6f 64 65 a6 6e 6f 64 65 2d 61 a4
      50 6f 72 74 cd 1f 0a a3 56 73 6e a6 01 05 02 00 00 00`,
    ),
  ],
  [
    "indirectPing (95 bytes)",
    {
      type: "indirectPing",
      seqNo: 7,
      target: new Uint8Array([10, 0, 0, 2]),
      port: 7946,
      node: "node-c",
      nack: true,
      sourceAddr: localhost,
      sourcePort: 7946,
      sourceNode: "node-a",
    },
    hex(
      `01 88 a4 4e 61 63 6b c3 a4 4e 6f 64 65 a6 6e 6f 64 65 2d 63 a4 50 6f 72 74 cd 1f 0a a5 53 65 71
      4e 6f 07 aa 53 6f 75 72 63 65 41 64 64 72 a4 7f 00 00 01 aa 53 6f 75 72 63 65 4e 6f 64 65 a6 6e
      6f 64 65 2d 61 aa 53 6f 75 72 63 65 50 6f 72 74 cd 1f 0a a6 54 61 72 67 65 74 a4 0a 00 00 02`,
    ),
  ],
  [
    "ack with nil payload",
    { type: "ack", seqNo: 1, payload: null },
    hex("02 82 a7 50 61 79 6c 6f 61 64 c0 a5 53 65 71 4e 6f 01"),
  ],
  [
    "ack with empty payload",
    { type: "ack", seqNo: 1, payload: new Uint8Array(0) },
    hex("02 82 a7 50 61 79 6c 6f 61 64 a0 a5 53 65 71 4e 6f 01"),
  ],
  [
    "ack with payload 'hi' and uint32 seqNo",
    { type: "ack", seqNo: 70000, payload: utf8("hi") },
    hex("02 82 a7 50 61 79 6c 6f 61 64 a2 68 69 a5 53 65 71 4e 6f ce 00 01 11 70"),
  ],
  ["nack", { type: "nack", seqNo: 7 }, hex("0b 81 a5 53 65 71 4e 6f 07")],
  ["suspect (39 bytes)", suspectMsg, SUSPECT],
  [
    "dead (failure)",
    { type: "dead", incarnation: 3, node: "node-b", from: "node-a" },
    hex(
      "05 83 a4 46 72 6f 6d a6 6e 6f 64 65 2d 61 ab 49 6e 63 61 72 6e 61 74 69 6f 6e 03 a4 4e 6f 64 65 a6 6e 6f 64 65 2d 62",
    ),
  ],
  [
    "dead (graceful leave)",
    { type: "dead", incarnation: 4, node: "node-a", from: "node-a" },
    hex(
      "05 83 a4 46 72 6f 6d a6 6e 6f 64 65 2d 61 ab 49 6e 63 61 72 6e 61 74 69 6f 6e 04 a4 4e 6f 64 65 a6 6e 6f 64 65 2d 61",
    ),
  ],
  [
    "suspect with a 40-character name (str16, not str8)",
    { type: "suspect", incarnation: 1, node: "x".repeat(40), from: "a" },
    concat(
      hex(
        "03 83 a4 46 72 6f 6d a1 61 ab 49 6e 63 61 72 6e 61 74 69 6f 6e 01 a4 4e 6f 64 65 da 00 28",
      ),
      utf8("x".repeat(40)),
    ),
  ],
  ["user packet 'hello'", { type: "user", payload: utf8("hello") }, hex("08 68 65 6c 6c 6f")],
];

for (const [name, message, bytes] of singles) {
  test(`vector: ${name} encodes byte-exact`, T, () => {
    const encoded = encodeMessage(message);
    assert.equal(toHex(encoded), toHex(bytes));
    assert.equal(toHex(memberlistCodec.encode(message)), toHex(bytes));
  });
  test(`vector: ${name} decodes back`, T, () => {
    assert.deepStrictEqual(decodePacket(bytes), [message]);
    assert.deepStrictEqual(memberlistCodec.decodePacket(bytes), [message]);
  });
}

test("vector: sizes stated by the spec", T, () => {
  assert.equal(PING.length, 69);
  assert.equal(ALIVE.length, 62);
  assert.equal(SUSPECT.length, 39);
});

test("vector: errResp {Error:'boom'}", T, () => {
  const bytes = hex("0d 81 a5 45 72 72 6f 72 a4 62 6f 6f 6d");
  assert.equal(toHex(encodeErrResp("boom")), toHex(bytes));
  assert.equal(decodeErrResp(bytes), "boom");
  // errResp is stream-only: a packet carrying it is rejected.
  assertDecodeError(() => decodePacket(bytes), "unknown-type");
});

test("vector: compound [ping, suspect] (114 bytes)", T, () => {
  const expected = concat(hex("07 02 00 45 00 27"), PING, SUSPECT);
  assert.equal(expected.length, 114);
  assert.equal(toHex(encodeCompound([PING, SUSPECT])), toHex(expected));
  assert.equal(toHex(memberlistCodec.frame([PING, SUSPECT])), toHex(expected));
  assert.deepStrictEqual(decodePacket(expected), [pingMsg, suspectMsg]);
});

test("vector: hasCrc + ping (74 bytes)", T, () => {
  const expected = concat(hex("0c 86 14 8b 66"), PING);
  assert.equal(expected.length, 74);
  assert.equal(toHex(wrapCrc(PING)), toHex(expected));
  assert.equal(toHex(memberlistCodec.frame([PING], { crc: true })), toHex(expected));
  assert.deepStrictEqual(decodePacket(expected), [pingMsg]);
});

test("vector: compress(alive) (85 bytes)", T, () => {
  const expected = hex(`
    09 82 a4 41 6c 67 6f 00 a3 42 75 66 da 00 46 00 09 18 22 15 84 0c 19 39 a4 fe 00 00 10 60 55 12
    37 63 c2 c8 71 13 86 4e 9a 37 6e 02 90 6a 52 86 4e 18 60 a4 9c bc 21 53 c6 94 9b 91 65 5a 84 21
    05 e5 8d 1c 3a cd 3e 28 18 65 65 8e 1b 53 01 0a 08 58 08 20 20`);
  assert.equal(expected.length, 85);
  assert.equal(toHex(encodeCompress(ALIVE)), toHex(expected));
  assert.deepStrictEqual(decodePacket(expected), [aliveMsg]);
  // Larger than the alive itself, so a compressing codec sends the alive bare (as Go does).
  assert.equal(toHex(createCompressingFrame([ALIVE])), toHex(ALIVE));
});

test("vector: compress('a' x 40)", T, () => {
  const input = utf8("a".repeat(40));
  const stream = hex("00 c3 08 1c 48 b0 a0 c1 83 08 09 06 04");
  assert.equal(toHex(lzwCompress(input)), toHex(stream));
  assert.deepStrictEqual(lzwDecompress(stream, 1024), input);
  const message = concat(hex("09 82 a4 41 6c 67 6f 00 a3 42 75 66 ad"), stream);
  assert.equal(toHex(encodeCompress(input)), toHex(message));
  // 0x61 ('a') is not a message type, so the decompressed payload is rejected as such.
  assertDecodeError(() => decodePacket(message), "unknown-type");
});

test("vector: CRC over a compressed compound covers the 0x09 byte", T, () => {
  const inner = encodeCompound([PING, SUSPECT, ALIVE]);
  const compressed = encodeCompress(inner);
  const packet = wrapCrc(compressed);
  assert.equal(packet[5], 0x09);
  assert.deepStrictEqual(decodePacket(packet), [pingMsg, suspectMsg, aliveMsg]);
});

function createCompressingFrame(parts: Uint8Array[]): Uint8Array {
  return createMemberlistCodec({ compress: true }).frame(parts);
}
