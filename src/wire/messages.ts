/**
 * memberlist's message structs (protocol.md §5) to and from bytes: one type byte followed by one
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
 * - Byte fields are copied out of the input, so messages never alias a receive buffer.
 *   Values up to 32 bytes (addresses, versions, short metadata) are interned: equal bytes
 *   give the same shared array, so decoded messages are read-only. `ack` and `user`
 *   payloads are fresh copies.
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
import { checkIp, checkUint, readStruct } from "./_struct.ts";
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

/** A decoded IP field: 4 or 16 bytes, else `bad-field` (nil and missing give length 0). */
export function decodedIp(bytes: Uint8Array | null, field: string): Uint8Array {
  if (bytes === null || (bytes.length !== 4 && bytes.length !== 16)) {
    throw new DecodeError(
      "bad-field",
      `${field} must be 4 or 16 IP bytes, got ${bytes?.length ?? 0}`,
    );
  }
  return bytes;
}

/** A decoded `Vsn`: 6 bytes, or empty for nil/missing/empty; any other length is `bad-field`. */
export function decodedVsn(vsn: Uint8Array | null): Uint8Array {
  if (vsn === null) return EMPTY;
  if (vsn.length !== VSN_LENGTH && vsn.length !== 0) {
    throw new DecodeError("bad-field", `Vsn must be ${VSN_LENGTH} bytes, got ${vsn.length}`);
  }
  return vsn;
}

/** An omitempty source address: absent (null) when nil/empty, else 4 or 16 bytes. */
function optionalIp(bytes: Uint8Array | null, field: string): Uint8Array | null {
  return bytes === null || bytes.length === 0 ? null : decodedIp(bytes, field);
}

/**
 * A decoded byte field, copied out of the input: values up to 32 bytes are interned, so the
 * same bytes give the same shared array (decoded messages are read-only).
 */
function own(bytes: Uint8Array): Uint8Array {
  return internBytes(bytes);
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Ping fields as read; `indirectPing` has these too. */
interface PingFields {
  seqNo: number;
  node: string;
  sourceAddr: Uint8Array | null;
  sourceNode: string;
  sourcePort: number;
}

interface IndirectPingFields extends PingFields {
  target: Uint8Array | null;
  port: number;
  nack: boolean;
}

function pingField(r: Reader, key: string, f: PingFields): boolean {
  switch (key) {
    case "Node":
      f.node = r.str();
      break;
    case "SeqNo":
      f.seqNo = r.uint(U32_MAX);
      break;
    case "SourceAddr":
      f.sourceAddr = r.bytesView();
      break;
    case "SourceNode":
      f.sourceNode = r.str();
      break;
    case "SourcePort":
      f.sourcePort = r.uint(U16_MAX);
      break;
    default:
      return false;
  }
  return true;
}

function indirectPingField(r: Reader, key: string, f: IndirectPingFields): boolean {
  switch (key) {
    case "Nack":
      f.nack = r.bool();
      break;
    case "Port":
      f.port = r.uint(U16_MAX);
      break;
    case "Target":
      f.target = r.bytesView();
      break;
    default:
      return pingField(r, key, f);
  }
  return true;
}

/** Set the omitempty `source*` properties that are present (`addr` already checked). */
function setSource(m: Mutable<Ping | IndirectPing>, addr: Uint8Array | null, f: PingFields): void {
  if (addr !== null) m.sourceAddr = own(addr);
  if (f.sourcePort !== 0) m.sourcePort = f.sourcePort;
  if (f.sourceNode !== "") m.sourceNode = f.sourceNode;
}

function readPing(r: Reader): Ping {
  const f = readStruct<PingFields>(
    r,
    { seqNo: 0, node: "", sourceAddr: null, sourceNode: "", sourcePort: 0 },
    pingField,
  );
  const ping: Mutable<Ping> = { type: "ping", seqNo: f.seqNo, node: f.node };
  setSource(ping, optionalIp(f.sourceAddr, "SourceAddr"), f);
  return ping;
}

function readIndirectPing(r: Reader): IndirectPing {
  const f = readStruct<IndirectPingFields>(r, {
    seqNo: 0,
    node: "",
    sourceAddr: null,
    sourceNode: "",
    sourcePort: 0,
    target: null,
    port: 0,
    nack: false,
  }, indirectPingField);
  const target = decodedIp(f.target, "Target");
  const addr = optionalIp(f.sourceAddr, "SourceAddr");
  const m: Mutable<IndirectPing> = {
    type: "indirectPing",
    seqNo: f.seqNo,
    target: own(target),
    port: f.port,
    node: f.node,
    nack: f.nack,
  };
  setSource(m, addr, f);
  return m;
}

interface AckFields {
  seqNo: number;
  payload: Uint8Array | null;
}

function ackField(r: Reader, key: string, f: AckFields): boolean {
  switch (key) {
    case "Payload":
      f.payload = r.bytesView();
      break;
    case "SeqNo":
      f.seqNo = r.uint(U32_MAX);
      break;
    default:
      return false;
  }
  return true;
}

function readAck(r: Reader): Ack {
  const { seqNo, payload } = readStruct<AckFields>(r, { seqNo: 0, payload: null }, ackField);
  return { type: "ack", seqNo, payload: payload === null ? null : payload.slice() };
}

function nackField(r: Reader, key: string, m: Mutable<Nack>): boolean {
  if (key !== "SeqNo") return false;
  m.seqNo = r.uint(U32_MAX);
  return true;
}

function readNack(r: Reader): Nack {
  return readStruct<Mutable<Nack>>(r, { type: "nack", seqNo: 0 }, nackField);
}

type RumourFields<T extends "suspect" | "dead"> = {
  type: T;
  incarnation: number;
  node: string;
  from: string;
};

function rumourField(r: Reader, key: string, m: RumourFields<"suspect" | "dead">): boolean {
  switch (key) {
    case "From":
      m.from = r.str();
      break;
    case "Incarnation":
      m.incarnation = r.uint(U32_MAX);
      break;
    case "Node":
      m.node = r.str();
      break;
    default:
      return false;
  }
  return true;
}

function readRumour<T extends "suspect" | "dead">(r: Reader, type: T): RumourFields<T> {
  return readStruct<RumourFields<T>>(r, { type, incarnation: 0, node: "", from: "" }, rumourField);
}

/**
 * The fields an `alive` and a push/pull node state share (Go's `alive` and `pushNodeState`),
 * as read, before the byte fields are checked and copied.
 */
export interface MemberFields {
  incarnation: number;
  addr: Uint8Array | null;
  port: number;
  meta: Uint8Array | null;
  vsn: Uint8Array | null;
}

/** Read one of the shared member fields; false for any other key. */
export function memberField(r: Reader, key: string, f: MemberFields): boolean {
  switch (key) {
    case "Addr":
      f.addr = r.bytesView();
      break;
    case "Incarnation":
      f.incarnation = r.uint(U32_MAX);
      break;
    case "Meta":
      f.meta = r.bytesView();
      break;
    case "Port":
      f.port = r.uint(U16_MAX);
      break;
    case "Vsn":
      f.vsn = r.bytesView();
      break;
    default:
      return false;
  }
  return true;
}

/** An `alive` as read. */
interface AliveFields extends MemberFields {
  node: string;
}

function aliveField(r: Reader, key: string, f: AliveFields): boolean {
  if (key !== "Node") return memberField(r, key, f);
  f.node = r.str();
  return true;
}

function readAlive(r: Reader): Alive {
  const f = readStruct<AliveFields>(
    r,
    { incarnation: 0, node: "", addr: null, port: 0, meta: null, vsn: null },
    aliveField,
  );
  const vsn = decodedVsn(f.vsn);
  const ip = decodedIp(f.addr, "Addr");
  return {
    type: "alive",
    incarnation: f.incarnation,
    node: f.node,
    addr: own(ip),
    port: f.port,
    meta: f.meta === null ? null : own(f.meta),
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
  return readStruct(r, { error: "" }, errRespField).error;
}

function errRespField(r: Reader, key: string, f: { error: string }): boolean {
  if (key !== "Error") return false;
  f.error = r.str();
  return true;
}
