/**
 * Wire codec benchmarks: `deno bench -A bench/codec.bench.ts`.
 */

import type { Message } from "../src/core/messages.ts";
import {
  decodePacket,
  encodeCompress,
  encodeMessage,
  lzwCompress,
  lzwDecompress,
  memberlistCodec,
} from "../src/wire/mod.ts";

const ping: Message = {
  type: "ping",
  seqNo: 123_456,
  node: "node-b",
  sourceAddr: new Uint8Array([127, 0, 0, 1]),
  sourcePort: 7946,
  sourceNode: "node-a",
};
const alive: Message = {
  type: "alive",
  incarnation: 42,
  node: "node-a.example.internal",
  addr: new Uint8Array([10, 0, 0, 17]),
  port: 7946,
  meta: new TextEncoder().encode("role=web,zone=eu-west-1a"),
  vsn: new Uint8Array([1, 5, 2, 0, 0, 0]),
};
const pingBytes = encodeMessage(ping);
const aliveBytes = encodeMessage(alive);

// A full packet: a ping followed by as many gossip rumours as fit in 1400 bytes.
const parts: Uint8Array[] = [pingBytes];
let size = pingBytes.length;
for (let i = 0;; i++) {
  const rumour = encodeMessage(
    i % 2
      ? { ...alive, node: `node-${i}`, incarnation: i }
      : { type: "suspect", incarnation: i, node: `node-${i}`, from: "node-a" },
  );
  if (size + rumour.length + memberlistCodec.overhead(parts.length + 1) > 1400) break;
  parts.push(rumour);
  size += rumour.length;
}
const fullPacket = memberlistCodec.frame(parts);
const fullPacketCrc = memberlistCodec.frame(parts, { crc: true });

// 1 KB of gossip-like bytes, LZW-compressed.
const kilobyte = fullPacket.subarray(0, 1024);
const kilobyteLzw = lzwCompress(kilobyte);
const compressedPacket = encodeCompress(fullPacket);

Deno.bench("encode ping", { group: "encode", baseline: true }, () => {
  memberlistCodec.encode(ping);
});
Deno.bench("encode alive", { group: "encode" }, () => {
  memberlistCodec.encode(alive);
});
Deno.bench(`frame ${fullPacket.length}-byte compound (${parts.length} parts)`, {
  group: "encode",
}, () => {
  memberlistCodec.frame(parts);
});
Deno.bench("frame compound + CRC", { group: "encode" }, () => {
  memberlistCodec.frame(parts, { crc: true });
});

Deno.bench("decode ping", { group: "decode", baseline: true }, () => {
  decodePacket(pingBytes);
});
Deno.bench("decode alive", { group: "decode" }, () => {
  decodePacket(aliveBytes);
});
Deno.bench(`decode ${fullPacket.length}-byte compound`, { group: "decode" }, () => {
  decodePacket(fullPacket);
});
Deno.bench("decode CRC-wrapped compound", { group: "decode" }, () => {
  decodePacket(fullPacketCrc);
});
Deno.bench("decode compressed compound", { group: "decode" }, () => {
  decodePacket(compressedPacket);
});

Deno.bench("LZW decompress 1 KB", { group: "lzw", baseline: true }, () => {
  lzwDecompress(kilobyteLzw, 1 << 20);
});
Deno.bench("LZW compress 1 KB", { group: "lzw" }, () => {
  lzwCompress(kilobyte);
});
