/**
 * memberlist's message structs (spec §5) to and from bytes: one type byte followed by one
 * msgpack map whose keys are Go's exact field names, sorted by byte value (as Go's encoder
 * writes them), or, for `user`, the raw payload.
 *
 * Decoding conventions (documented choices):
 * - Missing keys and nil read as Go's zero values (0, "", false, `null` for `meta`/`payload`).
 * - Ping/indirectPing `source*` fields are `omitempty` in Go: an absent, empty or zero value
 *   decodes as an absent property, so decode(encode(m)) is exact for messages that only
 *   carry non-empty `source*` values.
 * - `alive.vsn` must be exactly 6 bytes. A missing, nil or empty `Vsn` (which Go accepts)
 *   decodes as an empty `Uint8Array`, and an empty `vsn` encodes as nil, which is how Go
 *   re-encodes a missing one. Any other length is `bad-field`.
 * - IP byte fields (`alive.addr`, `indirectPing.target`, a present `sourceAddr`) must be 4 or
 *   16 bytes, else `bad-field`. Ports must fit uint16, seqNo/incarnation uint32.
 * - Byte fields are copied out of the input, so messages never alias a receive buffer. All
 *   byte fields of one message share one fresh allocation (allocation dominates decode time
 *   in Deno); a field is a view of it, so it keeps at most its own message's bytes alive.
 * - Trailing bytes after the msgpack object are ignored, as Go ignores them.
 *
 * Encoding a value that does not fit its field (port 70000, a 5-byte vsn, ...) throws
 * `RangeError`: that is a bug in the caller, not bad input.
 *
 * @module
 */

import { DecodeError } from "../core/codec.ts";
import {
  type Ack,
  type Alive,
  type Dead,
  type IndirectPing,
  type Message,
  MessageType,
  type Nack,
  type Ping,
  type Suspect,
  type UserMessage,
} from "../core/messages.ts";
import { rawKey, Reader, U16_MAX, U32_MAX, Writer } from "./msgpack.ts";
import { internBytes } from "./alloc.ts";

const K_ADDR = rawKey("Addr");
const K_ERROR = rawKey("Error");
const K_FROM = rawKey("From");
const K_INCARNATION = rawKey("Incarnation");
const K_META = rawKey("Meta");
const K_NACK = rawKey("Nack");
const K_NODE = rawKey("Node");
const K_PAYLOAD = rawKey("Payload");
const K_PORT = rawKey("Port");
const K_SEQNO = rawKey("SeqNo");
const K_SOURCE_ADDR = rawKey("SourceAddr");
const K_SOURCE_NODE = rawKey("SourceNode");
const K_SOURCE_PORT = rawKey("SourcePort");
const K_TARGET = rawKey("Target");
const K_VSN = rawKey("Vsn");

/** Length of a `Vsn` field: `[PMin, PMax, PCur, DMin, DMax, DCur]`. */
export const VSN_LENGTH = 6;

const EMPTY = new Uint8Array(0);
const shared = new Writer(2048);

// ---------------------------------------------------------------------------------------
// Encoding

function checkUint(v: number, max: number, field: string): number {
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new RangeError(`${field} must be an integer in 0..${max}, got ${v}`);
  }
  return v;
}

function checkIp(bytes: Uint8Array, field: string): Uint8Array {
  if (bytes.length !== 4 && bytes.length !== 16) {
    throw new RangeError(`${field} must be 4 or 16 IP bytes, got ${bytes.length}`);
  }
  return bytes;
}

function writeSource(
  w: Writer,
  addr: Uint8Array | undefined,
  node: string | undefined,
  port: number | undefined,
): void {
  if (addr !== undefined && addr.length > 0) {
    w.put(K_SOURCE_ADDR);
    w.bin(checkIp(addr, "sourceAddr"));
  }
  if (node) {
    w.put(K_SOURCE_NODE);
    w.str(node);
  }
  if (port) {
    w.put(K_SOURCE_PORT);
    w.uint(checkUint(port, U16_MAX, "sourcePort"));
  }
}

function sourceCount(m: Ping | IndirectPing): number {
  return (m.sourceAddr !== undefined && m.sourceAddr.length > 0 ? 1 : 0) +
    (m.sourceNode ? 1 : 0) + (m.sourcePort ? 1 : 0);
}

function writeRumour(w: Writer, m: Suspect | Dead): void {
  w.byte(0x83);
  w.put(K_FROM);
  w.str(m.from);
  w.put(K_INCARNATION);
  w.uint(checkUint(m.incarnation, U32_MAX, "incarnation"));
  w.put(K_NODE);
  w.str(m.node);
}

/**
 * Append `message` (type byte + body) to `w`. Streams can use this to build several
 * objects in one buffer; packets normally use {@linkcode encodeMessage}.
 */
export function writeMessage(w: Writer, message: Message): void {
  switch (message.type) {
    case "ping": {
      const m = message;
      w.byte(MessageType.ping);
      w.mapHeader(2 + sourceCount(m));
      w.put(K_NODE);
      w.str(m.node);
      w.put(K_SEQNO);
      w.uint(checkUint(m.seqNo, U32_MAX, "seqNo"));
      writeSource(w, m.sourceAddr, m.sourceNode, m.sourcePort);
      return;
    }
    case "indirectPing": {
      const m = message;
      w.byte(MessageType.indirectPing);
      w.mapHeader(5 + sourceCount(m));
      w.put(K_NACK);
      w.bool(m.nack);
      w.put(K_NODE);
      w.str(m.node);
      w.put(K_PORT);
      w.uint(checkUint(m.port, U16_MAX, "port"));
      w.put(K_SEQNO);
      w.uint(checkUint(m.seqNo, U32_MAX, "seqNo"));
      writeSource(w, m.sourceAddr, m.sourceNode, m.sourcePort);
      w.put(K_TARGET);
      w.bin(checkIp(m.target, "target"));
      return;
    }
    case "ack":
      w.byte(MessageType.ack);
      w.byte(0x82);
      w.put(K_PAYLOAD);
      w.bin(message.payload);
      w.put(K_SEQNO);
      w.uint(checkUint(message.seqNo, U32_MAX, "seqNo"));
      return;
    case "nack":
      w.byte(MessageType.nack);
      w.byte(0x81);
      w.put(K_SEQNO);
      w.uint(checkUint(message.seqNo, U32_MAX, "seqNo"));
      return;
    case "suspect":
      w.byte(MessageType.suspect);
      writeRumour(w, message);
      return;
    case "dead":
      w.byte(MessageType.dead);
      writeRumour(w, message);
      return;
    case "alive": {
      const m = message;
      if (m.vsn.length !== VSN_LENGTH && m.vsn.length !== 0) {
        throw new RangeError(`vsn must be ${VSN_LENGTH} bytes, got ${m.vsn.length}`);
      }
      w.byte(MessageType.alive);
      w.byte(0x86);
      w.put(K_ADDR);
      w.bin(checkIp(m.addr, "addr"));
      w.put(K_INCARNATION);
      w.uint(checkUint(m.incarnation, U32_MAX, "incarnation"));
      w.put(K_META);
      w.bin(m.meta);
      w.put(K_NODE);
      w.str(m.node);
      w.put(K_PORT);
      w.uint(checkUint(m.port, U16_MAX, "port"));
      w.put(K_VSN);
      w.bin(m.vsn.length === 0 ? null : m.vsn);
      return;
    }
    case "user":
      w.byte(MessageType.user);
      w.put(message.payload);
      return;
    default:
      throw new RangeError(`unknown message type ${(message as { type: unknown }).type}`);
  }
}

/**
 * Encode one message as Go would: type byte + msgpack map with sorted keys (or, for
 * `user`, type byte + payload). The result is a fresh array.
 *
 * @example
 * ```ts
 * import { encodeMessage } from "./messages.ts";
 * encodeMessage({ type: "nack", seqNo: 7 }); // 0b 81 a5 53 65 71 4e 6f 07
 * ```
 */
export function encodeMessage(message: Message): Uint8Array {
  const w = shared.reset();
  writeMessage(w, message);
  return w.finish();
}

/**
 * Encode an `errResp` (type 13, streams only): `{Error: text}`.
 *
 * @example
 * ```ts
 * import { encodeErrResp } from "./messages.ts";
 * encodeErrResp("boom"); // 0d 81 a5 45 72 72 6f 72 a4 62 6f 6f 6d
 * ```
 */
export function encodeErrResp(error: string): Uint8Array {
  const w = shared.reset();
  w.byte(MessageType.err);
  w.byte(0x81);
  w.put(K_ERROR);
  w.str(error);
  return w.finish();
}

// ---------------------------------------------------------------------------------------
// Decoding

function badField(message: string): DecodeError {
  return new DecodeError("bad-field", message);
}

function checkedIp(bytes: Uint8Array | null, field: string): Uint8Array {
  if (bytes === null || (bytes.length !== 4 && bytes.length !== 16)) {
    throw badField(`${field} must be 4 or 16 IP bytes, got ${bytes?.length ?? 0}`);
  }
  return bytes;
}

/** An omitempty source address: absent (null) when nil/empty, else 4 or 16 bytes. */
function optionalIp(bytes: Uint8Array | null, field: string): Uint8Array | null {
  return bytes === null || bytes.length === 0 ? null : checkedIp(bytes, field);
}

/**
 * A decoded byte field, owned by the message (never a view of the input): small values
 * (addresses, versions, short metadata) are interned and shared between messages, so decoded
 * messages are read-only.
 */
function own(bytes: Uint8Array): Uint8Array {
  return internBytes(bytes);
}

function readPing(r: Reader): Ping {
  let seqNo = 0;
  let node = "";
  let sourceAddr: Uint8Array | null = null;
  let sourcePort = 0;
  let sourceNode = "";
  for (let n = r.mapHeader(); n > 0; n--) {
    switch (r.key()) {
      case "Node":
        node = r.str();
        break;
      case "SeqNo":
        seqNo = r.uint(U32_MAX);
        break;
      case "SourceAddr":
        sourceAddr = r.bytesView();
        break;
      case "SourceNode":
        sourceNode = r.str();
        break;
      case "SourcePort":
        sourcePort = r.uint(U16_MAX);
        break;
      default:
        r.skip();
    }
  }
  const ping: { -readonly [K in keyof Ping]: Ping[K] } = { type: "ping", seqNo, node };
  const addr = optionalIp(sourceAddr, "SourceAddr");
  if (addr !== null) ping.sourceAddr = own(addr);
  if (sourcePort !== 0) ping.sourcePort = sourcePort;
  if (sourceNode !== "") ping.sourceNode = sourceNode;
  return ping;
}

function readIndirectPing(r: Reader): IndirectPing {
  let seqNo = 0;
  let target: Uint8Array | null = null;
  let port = 0;
  let node = "";
  let nack = false;
  let sourceAddr: Uint8Array | null = null;
  let sourcePort = 0;
  let sourceNode = "";
  for (let n = r.mapHeader(); n > 0; n--) {
    switch (r.key()) {
      case "Nack":
        nack = r.bool();
        break;
      case "Node":
        node = r.str();
        break;
      case "Port":
        port = r.uint(U16_MAX);
        break;
      case "SeqNo":
        seqNo = r.uint(U32_MAX);
        break;
      case "SourceAddr":
        sourceAddr = r.bytesView();
        break;
      case "SourceNode":
        sourceNode = r.str();
        break;
      case "SourcePort":
        sourcePort = r.uint(U16_MAX);
        break;
      case "Target":
        target = r.bytesView();
        break;
      default:
        r.skip();
    }
  }
  const targetIp = checkedIp(target, "Target");
  const addr = optionalIp(sourceAddr, "SourceAddr");
  const m: { -readonly [K in keyof IndirectPing]: IndirectPing[K] } = {
    type: "indirectPing",
    seqNo,
    target: own(targetIp),
    port,
    node,
    nack,
  };
  if (addr !== null) m.sourceAddr = own(addr);
  if (sourcePort !== 0) m.sourcePort = sourcePort;
  if (sourceNode !== "") m.sourceNode = sourceNode;
  return m;
}

function readAck(r: Reader): Ack {
  let seqNo = 0;
  let payload: Uint8Array | null = null;
  for (let n = r.mapHeader(); n > 0; n--) {
    switch (r.key()) {
      case "Payload":
        payload = r.bytesView();
        break;
      case "SeqNo":
        seqNo = r.uint(U32_MAX);
        break;
      default:
        r.skip();
    }
  }
  return { type: "ack", seqNo, payload: payload === null ? null : payload.slice() };
}

function readNack(r: Reader): Nack {
  let seqNo = 0;
  for (let n = r.mapHeader(); n > 0; n--) {
    if (r.key() === "SeqNo") seqNo = r.uint(U32_MAX);
    else r.skip();
  }
  return { type: "nack", seqNo };
}

function readRumour<T extends "suspect" | "dead">(
  r: Reader,
  type: T,
): { type: T; incarnation: number; node: string; from: string } {
  let incarnation = 0;
  let node = "";
  let from = "";
  for (let n = r.mapHeader(); n > 0; n--) {
    switch (r.key()) {
      case "From":
        from = r.str();
        break;
      case "Incarnation":
        incarnation = r.uint(U32_MAX);
        break;
      case "Node":
        node = r.str();
        break;
      default:
        r.skip();
    }
  }
  return { type, incarnation, node, from };
}

function readAlive(r: Reader): Alive {
  let incarnation = 0;
  let node = "";
  let addr: Uint8Array | null = null;
  let port = 0;
  let meta: Uint8Array | null = null;
  let vsn: Uint8Array | null = null;
  for (let n = r.mapHeader(); n > 0; n--) {
    switch (r.key()) {
      case "Addr":
        addr = r.bytesView();
        break;
      case "Incarnation":
        incarnation = r.uint(U32_MAX);
        break;
      case "Meta":
        meta = r.bytesView();
        break;
      case "Node":
        node = r.str();
        break;
      case "Port":
        port = r.uint(U16_MAX);
        break;
      case "Vsn":
        vsn = r.bytesView();
        break;
      default:
        r.skip();
    }
  }
  vsn ??= EMPTY;
  if (vsn.length !== VSN_LENGTH && vsn.length !== 0) {
    throw badField(`Vsn must be ${VSN_LENGTH} bytes, got ${vsn.length}`);
  }
  const ip = checkedIp(addr, "Addr");
  return {
    type: "alive",
    incarnation,
    node,
    addr: own(ip),
    port,
    meta: meta === null ? null : own(meta),
    vsn: own(vsn),
  };
}

/**
 * Decode the msgpack body of a packet message of type byte `type` from `r` (positioned just
 * after the type byte). Leaves `r.pos` after the object, so stream code can continue from
 * there. `user` has no msgpack body and is not accepted here; neither are framing or
 * stream-only types (`unknown-type`).
 */
export function readMessageBody(type: number, r: Reader): Message {
  switch (type) {
    case MessageType.ping:
      return readPing(r);
    case MessageType.indirectPing:
      return readIndirectPing(r);
    case MessageType.ack:
      return readAck(r);
    case MessageType.nack:
      return readNack(r);
    case MessageType.suspect:
      return readRumour(r, "suspect");
    case MessageType.dead:
      return readRumour(r, "dead");
    case MessageType.alive:
      return readAlive(r);
    default:
      throw new DecodeError("unknown-type", `message type ${type} has no msgpack body here`);
  }
}

/**
 * Decode one complete message (type byte + body) occupying `bytes[start, end)`. Handles the
 * simple packet types (ping, indirectPing, ack, nack, suspect, alive, dead, user); framing
 * types (compound, compress, hasCrc) are {@link decodePacket}'s job and, like the
 * stream-only ones, give `unknown-type` here.
 *
 * @example
 * ```ts
 * import { decodeMessage } from "./messages.ts";
 * decodeMessage(new Uint8Array([0x08, 0x68, 0x69])); // { type: "user", payload: [0x68, 0x69] }
 * ```
 */
export function decodeMessage(
  bytes: Uint8Array,
  start = 0,
  end: number = bytes.length,
): Message {
  if (start >= end) throw new DecodeError("empty", "message has no type byte");
  const type = bytes[start];
  if (type === MessageType.user) {
    const user: UserMessage = { type: "user", payload: bytes.slice(start + 1, end) };
    return user;
  }
  return readMessageBody(type, new Reader(bytes, start + 1, end));
}

/**
 * Decode an `errResp` (type 13) occupying `bytes[start, end)` and return its `Error` text.
 * Any other type byte gives `unknown-type`.
 *
 * @example
 * ```ts
 * import { decodeErrResp, encodeErrResp } from "./messages.ts";
 * decodeErrResp(encodeErrResp("boom")); // "boom"
 * ```
 */
export function decodeErrResp(bytes: Uint8Array, start = 0, end: number = bytes.length): string {
  if (start >= end) throw new DecodeError("empty", "message has no type byte");
  if (bytes[start] !== MessageType.err) {
    throw new DecodeError("unknown-type", `expected errResp (13), got ${bytes[start]}`);
  }
  return readErrRespBody(new Reader(bytes, start + 1, end));
}

/** Decode the `{Error}` body of an `errResp` from `r` (positioned after the type byte). */
export function readErrRespBody(r: Reader): string {
  let error = "";
  for (let n = r.mapHeader(); n > 0; n--) {
    if (r.key() === "Error") error = r.str();
    else r.skip();
  }
  return error;
}
