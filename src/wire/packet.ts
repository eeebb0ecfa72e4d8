/**
 * Datagram framing (protocol.md §3): compound messages, the CRC wrapper and LZW compression, and
 * the recursive decoder that unwraps them.
 *
 * Layering, outermost first, as Go applies it: `[label] [encryption] [hasCrc] [compress]
 * [compound] message…`. Label and encryption are outermost and handled by
 * `packet_security.ts`; CRC is also outermost-only; compress and compound may nest inside
 * each other up to {@linkcode PacketDecodeOptions.maxDepth}, with at most
 * {@linkcode PacketDecodeOptions.maxMessages} messages in all.
 *
 * A packet is all-or-nothing: any malformed part throws and the whole datagram is dropped.
 * (Go processes the good parts of a compound; a conforming sender never produces bad ones.)
 *
 * @module
 */

import { DecodeError } from "../core/codec.ts";
import { type Message, MessageType } from "../core/messages.ts";
import { crc32 } from "./crc.ts";
import { lzwCompress, lzwDecompress } from "./lzw.ts";
import { decodeMessage } from "./messages.ts";
import { rawKey, Reader, U8_MAX, Writer } from "./msgpack.ts";
import { allocBytes } from "./alloc.ts";

/** Largest datagram accepted (Go's receive buffer). */
export const MAX_DATAGRAM = 65_536;
/** Most parts a compound may carry: 0.2.2–0.2.3 receivers mis-parse 128 or more. */
export const MAX_COMPOUND_PARTS = 127;
/** Largest compound part (its length is a uint16). */
export const MAX_PART_LENGTH = 0xffff;
/** Bytes the `hasCrc` wrapper adds: type byte + 4-byte CRC. */
export const CRC_OVERHEAD = 5;
/** Default cap on the total bytes decompressed while decoding one packet. */
export const DEFAULT_MAX_DECOMPRESSED = 1 << 20;
/** Default cap on the messages one packet may carry, all layers together. */
export const DEFAULT_MAX_MESSAGES = 512;
/** Default cap on nested compound/compress layers in one packet (Go sends at most 2). */
export const DEFAULT_MAX_DEPTH = 4;
/** memberlist's only compression algorithm id. */
export const ALGO_LZW = 0;

const K_ALGO = rawKey("Algo");
const K_BUF = rawKey("Buf");
const HAS_LABEL = 0xf4;

/** Limits for {@linkcode decodePacket}. */
export interface PacketDecodeOptions {
  /** Largest datagram accepted; default {@linkcode MAX_DATAGRAM}. */
  readonly maxDatagram?: number;
  /** Total bytes all `compress` layers of one packet may expand to; default 1 MiB. */
  readonly maxDecompressed?: number;
  /** Nested compound/compress layers allowed; default {@linkcode DEFAULT_MAX_DEPTH}. */
  readonly maxDepth?: number;
  /** Messages one packet may carry; default {@linkcode DEFAULT_MAX_MESSAGES}. */
  readonly maxMessages?: number;
}

/** How {@linkcode framePacket} builds a datagram. */
export interface PacketFrameOptions {
  /** Wrap in `hasCrc` (for recipients with PMax ≥ 5). */
  readonly crc?: boolean;
  /** LZW-compress the payload, keeping the result only if it is strictly smaller. */
  readonly compress?: boolean;
}

// ---------------------------------------------------------------------------------------
// Encoding

function checkParts(parts: readonly Uint8Array[]): number {
  const n = parts.length;
  if (n < 1 || n > MAX_COMPOUND_PARTS) {
    throw new Error(`a packet needs 1..${MAX_COMPOUND_PARTS} parts, got ${n}`);
  }
  let sum = 0;
  for (const part of parts) {
    if (part.length === 0) throw new Error("empty message part");
    if (n > 1 && part.length > MAX_PART_LENGTH) {
      throw new Error(`compound part of ${part.length} bytes exceeds ${MAX_PART_LENGTH}`);
    }
    sum += part.length;
  }
  return sum;
}

/**
 * Bytes the compound layer adds for `count` parts: 0 for a single part (sent bare),
 * otherwise 2 (type + count) + 2 per part.
 */
export function compoundOverhead(count: number): number {
  if (!Number.isInteger(count) || count < 0) throw new Error(`bad part count ${count}`);
  return count <= 1 ? 0 : 2 + 2 * count;
}

function writeCompound(out: Uint8Array, at: number, parts: readonly Uint8Array[]): void {
  out[at] = MessageType.compound;
  out[at + 1] = parts.length;
  let len = at + 2;
  let body = at + 2 + 2 * parts.length;
  for (const part of parts) {
    out[len++] = part.length >>> 8;
    out[len++] = part.length;
    out.set(part, body);
    body += part.length;
  }
}

/**
 * Build a compound message (`0x07`, count, big-endian uint16 lengths, parts). Throws a plain
 * `Error` for 0 or more than 127 parts, an empty part or a part over 65 535 bytes.
 *
 * @example
 * ```ts
 * import { encodeCompound } from "./packet.ts";
 * encodeCompound([new Uint8Array([8, 1]), new Uint8Array([8])]); // 07 02 00 02 00 01 08 01 08
 * ```
 */
export function encodeCompound(parts: readonly Uint8Array[]): Uint8Array {
  const sum = checkParts(parts);
  if (parts.length === 1 && parts[0].length > MAX_PART_LENGTH) {
    throw new Error(`compound part of ${parts[0].length} bytes exceeds ${MAX_PART_LENGTH}`);
  }
  const out = allocBytes(2 + 2 * parts.length + sum);
  writeCompound(out, 0, parts);
  return out;
}

function writeCrcHeader(out: Uint8Array): void {
  const crc = crc32(out.subarray(CRC_OVERHEAD));
  out[0] = MessageType.hasCrc;
  out[1] = crc >>> 24;
  out[2] = crc >>> 16;
  out[3] = crc >>> 8;
  out[4] = crc;
}

/**
 * Wrap a message in `hasCrc`: `0x0C`, big-endian CRC-32 of `message`, `message`.
 * Throws a plain `Error` for an empty message (a 5-byte CRC packet crashes Go 0.2.2).
 *
 * @example
 * ```ts
 * import { wrapCrc } from "./packet.ts";
 * wrapCrc(new Uint8Array([0x08])).length; // 6
 * ```
 */
export function wrapCrc(message: Uint8Array): Uint8Array {
  if (message.length === 0) throw new Error("cannot CRC-wrap an empty message");
  const out = allocBytes(CRC_OVERHEAD + message.length);
  out.set(message, CRC_OVERHEAD);
  writeCrcHeader(out);
  return out;
}

const compressWriter = new Writer(256);

/**
 * Build a `compress` message: `0x09` + msgpack `{Algo: 0, Buf: LZW(inner)}`. Throws a plain
 * `Error` for an empty `inner` (it would decompress to nothing).
 *
 * @example
 * ```ts
 * import { encodeCompress } from "./packet.ts";
 * encodeCompress(new TextEncoder().encode("a".repeat(40))).length; // 26
 * ```
 */
export function encodeCompress(inner: Uint8Array): Uint8Array {
  if (inner.length === 0) throw new Error("cannot compress an empty message");
  const w = compressWriter.reset();
  w.byte(MessageType.compress);
  w.byte(0x82);
  w.put(K_ALGO);
  w.uint(ALGO_LZW);
  w.put(K_BUF);
  w.bin(lzwCompress(inner));
  return w.finish();
}

/**
 * Read the body of a `compress` message (protocol.md §5.10, packets and streams alike): checks the
 * algorithm and returns the LZW stream (a view into the reader's buffer).
 *
 * @throws {DecodeError} `bad-compression` for an unknown algorithm or a missing `Buf`.
 */
export function readCompressBody(r: Reader): Uint8Array {
  let algo = ALGO_LZW;
  let data: Uint8Array | null = null;
  for (let n = r.mapHeader(); n > 0; n--) {
    switch (r.key()) {
      case "Algo":
        algo = r.uint(U8_MAX);
        break;
      case "Buf":
        data = r.bytesView();
        break;
      default:
        r.skip();
    }
  }
  if (algo !== ALGO_LZW) throw new DecodeError("bad-compression", `unknown algorithm ${algo}`);
  if (data === null) throw new DecodeError("bad-compression", "compress without Buf");
  return data;
}

/** `encodeCompress(inner)` if that is strictly shorter than `inner`, else `inner` itself. */
export function compressIfSmaller(inner: Uint8Array): Uint8Array {
  const compressed = encodeCompress(inner);
  return compressed.length < inner.length ? compressed : inner;
}

/**
 * Exact bytes {@linkcode framePacket} adds to `count` parts without compression:
 * compound header and lengths (when `count > 1`) plus the CRC wrapper (when `crc`).
 * With `compress` the result is an upper bound (compression is only kept when smaller).
 */
export function packetOverhead(count: number, options?: PacketFrameOptions): number {
  return compoundOverhead(count) + (options?.crc ? CRC_OVERHEAD : 0);
}

/**
 * Build one datagram from encoded messages: one part is sent bare (the same array is
 * returned when no other layer applies), several become a compound; then optional
 * compression, then the optional CRC wrapper, outermost. Throws a plain `Error` on misuse
 * (no parts, more than 127, an empty part).
 *
 * @example
 * ```ts
 * import { framePacket } from "./packet.ts";
 * const dgram = framePacket([new Uint8Array([8, 1]), new Uint8Array([8, 2])], { crc: true });
 * dgram.length; // 5 + 2 + 2 * 2 + 4
 * ```
 */
export function framePacket(
  parts: readonly Uint8Array[],
  options?: PacketFrameOptions,
): Uint8Array {
  const sum = checkParts(parts);
  const crc = options?.crc === true;
  if (options?.compress) {
    const inner = parts.length === 1 ? parts[0] : encodeCompound(parts);
    const payload = compressIfSmaller(inner);
    return crc ? wrapCrc(payload) : payload;
  }
  if (parts.length === 1 && !crc) return parts[0];
  const head = crc ? CRC_OVERHEAD : 0;
  const out = allocBytes(head + compoundOverhead(parts.length) + sum);
  if (parts.length === 1) out.set(parts[0], head);
  else writeCompound(out, head, parts);
  if (crc) writeCrcHeader(out);
  return out;
}

// ---------------------------------------------------------------------------------------
// Decoding

interface DecodeState {
  readonly maxDepth: number;
  readonly maxMessages: number;
  budget: number;
  readonly out: Message[];
}

/**
 * Decode a received datagram into its messages, unwrapping CRC (outermost only), compress
 * and compound layers. Throws only {@linkcode DecodeError}:
 * `empty` (no bytes, or an empty inner message), `oversized`, `truncated`, `bad-crc`,
 * `bad-compression`, `too-deep`, `too-many-parts` (a compound over 127 parts, or more than
 * `maxMessages` messages in all), `unknown-type` (including stream-only types and a nested
 * `hasCrc`), `bad-label` (a label still on the packet: the node's security layer strips
 * labels and decrypts before this), plus the msgpack kinds `bad-msgpack` and `bad-field`.
 *
 * @example
 * ```ts
 * import { decodePacket } from "./packet.ts";
 * decodePacket(new Uint8Array([0x08, 0x68, 0x69])); // [{ type: "user", payload: [0x68, 0x69] }]
 * ```
 */
export function decodePacket(bytes: Uint8Array, options?: PacketDecodeOptions): Message[] {
  const maxDatagram = options?.maxDatagram ?? MAX_DATAGRAM;
  if (bytes.length === 0) throw new DecodeError("empty", "empty datagram");
  if (bytes.length > maxDatagram) {
    throw new DecodeError("oversized", `datagram of ${bytes.length} bytes > ${maxDatagram}`);
  }
  let start = 0;
  // Labels and encryption are outer layers, removed by `packet_security.ts` before this.
  if (bytes[0] === HAS_LABEL) throw new DecodeError("bad-label", "label not stripped");
  if (bytes[0] === MessageType.hasCrc) {
    if (bytes.length < CRC_OVERHEAD) throw new DecodeError("truncated", "short hasCrc header");
    const expected = ((bytes[1] << 24) | (bytes[2] << 16) | (bytes[3] << 8) | bytes[4]) >>> 0;
    const actual = crc32(bytes.subarray(CRC_OVERHEAD));
    if (expected !== actual) {
      throw new DecodeError("bad-crc", `CRC ${hex32(actual)} != announced ${hex32(expected)}`);
    }
    start = CRC_OVERHEAD;
  }
  const state: DecodeState = {
    maxDepth: options?.maxDepth ?? DEFAULT_MAX_DEPTH,
    maxMessages: options?.maxMessages ?? DEFAULT_MAX_MESSAGES,
    budget: options?.maxDecompressed ?? DEFAULT_MAX_DECOMPRESSED,
    out: [],
  };
  dispatch(bytes, start, bytes.length, 0, state);
  return state.out;
}

function dispatch(
  buf: Uint8Array,
  start: number,
  end: number,
  depth: number,
  s: DecodeState,
): void {
  if (start >= end) throw new DecodeError("empty", "message has no type byte");
  const type = buf[start];
  if (type === MessageType.compound || type === MessageType.compress) {
    if (depth >= s.maxDepth) {
      throw new DecodeError("too-deep", `more than ${s.maxDepth} nested compound/compress`);
    }
    if (type === MessageType.compound) decodeCompound(buf, start, end, depth, s);
    else decodeCompress(buf, start, end, depth, s);
    return;
  }
  if (s.out.length >= s.maxMessages) {
    throw new DecodeError("too-many-parts", `more than ${s.maxMessages} messages in one packet`);
  }
  s.out.push(decodeMessage(buf, start, end));
}

function decodeCompound(
  buf: Uint8Array,
  start: number,
  end: number,
  depth: number,
  s: DecodeState,
): void {
  if (end - start < 2) throw new DecodeError("truncated", "compound without a part count");
  const n = buf[start + 1];
  if (n > MAX_COMPOUND_PARTS) {
    throw new DecodeError("too-many-parts", `compound of ${n} parts > ${MAX_COMPOUND_PARTS}`);
  }
  let lengthAt = start + 2;
  let body = lengthAt + 2 * n;
  if (body > end) throw new DecodeError("truncated", `compound length table for ${n} parts`);
  for (let i = 0; i < n; i++) {
    const len = (buf[lengthAt] << 8) | buf[lengthAt + 1];
    lengthAt += 2;
    if (len === 0) throw new DecodeError("empty", `compound part ${i} is empty`);
    if (len > end - body) {
      throw new DecodeError("truncated", `compound part ${i} of ${len} bytes > ${end - body} left`);
    }
    dispatch(buf, body, body + len, depth + 1, s);
    body += len;
  }
  // Bytes after the last part are ignored, as Go ignores them.
}

function decodeCompress(
  buf: Uint8Array,
  start: number,
  end: number,
  depth: number,
  s: DecodeState,
): void {
  const data = readCompressBody(new Reader(buf, start + 1, end));
  const inner = lzwDecompress(data, s.budget);
  s.budget -= inner.length;
  if (inner.length === 0) {
    throw new DecodeError("empty", "compress payload decompresses to nothing");
  }
  dispatch(inner, 0, inner.length, depth + 1, s);
}

function hex32(v: number): string {
  return v.toString(16).padStart(8, "0");
}
