/**
 * The messages that travel on streams (protocol.md §5.9, §6.4–6.6) as plain data, and their msgpack
 * pieces. A stream carries one request and at most one reply:
 *
 * | Message | Request | Reply to |
 * |---|---|---|
 * | `PushPull` (type 6) | full-state exchange, periodic or on join | a push/pull |
 * | `Ping` (type 0) | the fallback probe | — |
 * | `Ack` (type 2) | — | a ping |
 * | `UserMessage` (type 8) | a reliable user message (no reply) | — |
 * | {@linkcode ErrResp} (type 13) | — | a request the acceptor could not read |
 *
 * `PushPull`, `Ping`, `Ack` and `UserMessage` are the core's types (`src/core/messages.ts`).
 *
 * Decoding follows the packet decoders' conventions (liberal msgpack, copied bytes, Go's
 * zero values for missing keys) plus memberlist ≥ 0.6.0's limits: `Nodes` ≤ 1 048 576,
 * `UserStateLen` and `UserMsgLen` ≤ 20 MiB, never negative (`bad-field`).
 *
 * @module
 */

import { StateCode } from "../core/member.ts";
import {
  type Ack,
  MessageType,
  type NodeState,
  type Ping,
  type PushPull,
  type UserMessage,
} from "../core/messages.ts";
import { decodedIp, decodedVsn, memberField, type MemberFields, VSN_LENGTH } from "./messages.ts";
import { rawKey, type Reader, U16_MAX, U32_MAX, type Writer } from "./msgpack.ts";
import { checkIp, checkUint, readStruct } from "./_struct.ts";
import { MAX_STREAM_MESSAGE } from "./stream_reader.ts";
import { internBytes } from "./alloc.ts";

/** Most node states one push/pull may announce (memberlist ≥ 0.6.0). */
export const MAX_PUSH_NODES = 1_048_576;
/** Most bytes of user state in a push/pull, or of a stream user message. */
export const MAX_USER_BYTES = MAX_STREAM_MESSAGE;

export type { PushPull };

/** The acceptor's "I could not read your request" (protocol.md §5.5, §6.1). */
export interface ErrResp {
  /** Message discriminator. */
  readonly type: "err";
  /** Human-readable error text. */
  readonly error: string;
}

/** Every message that can travel on a stream. */
export type StreamMessage = PushPull | Ping | Ack | UserMessage | ErrResp;

/** The header of a push/pull body. */
export interface PushPullHeader {
  /** Part of a join. */
  readonly join: boolean;
  /** Node states that follow. */
  readonly nodes: number;
  /** Bytes of user state after the node states. */
  readonly userStateLen: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const K_ADDR = rawKey("Addr");
const K_INCARNATION = rawKey("Incarnation");
const K_JOIN = rawKey("Join");
const K_META = rawKey("Meta");
const K_NAME = rawKey("Name");
const K_NODES = rawKey("Nodes");
const K_PORT = rawKey("Port");
const K_STATE = rawKey("State");
const K_USER_MSG_LEN = rawKey("UserMsgLen");
const K_USER_STATE_LEN = rawKey("UserStateLen");
const K_VSN = rawKey("Vsn");

// ---------------------------------------------------------------------------------------
// Encoding (Go 0.5.x byte for byte: sorted keys, raw strings, unsigned ints)

/**
 * Append a whole push/pull (type byte, header, node states, user state) to `w`.
 *
 * @throws {RangeError} for a value that does not fit its field (a Vsn that is not 6 bytes,
 * an address that is not 4 or 16 bytes, a port over 65535, a state outside 0..3, ...).
 */
export function writePushPull(w: Writer, m: PushPull): void {
  checkUint(m.states.length, MAX_PUSH_NODES, "number of node states");
  checkUint(m.userState.length, MAX_USER_BYTES, "user state length");
  w.byte(MessageType.pushPull);
  w.byte(0x83);
  w.put(K_JOIN);
  w.bool(m.join);
  w.put(K_NODES);
  w.uint(m.states.length);
  w.put(K_USER_STATE_LEN);
  w.uint(m.userState.length);
  for (const s of m.states) writePushNodeState(w, s);
  w.put(m.userState);
}

/**
 * Append one `pushNodeState` map to `w` (keys `Addr … Vsn`, sorted; `name` goes out as Go's
 * `Name`). `addr`, `port`, `meta` and `vsn` are relayed byte for byte (protocol.md §7.7); `vsn` must
 * be 6 bytes, as a short one crashes Go.
 */
export function writePushNodeState(w: Writer, s: NodeState): void {
  checkIp(s.addr, "addr");
  if (s.vsn.length !== VSN_LENGTH) {
    throw new RangeError(`vsn must be ${VSN_LENGTH} bytes in a push/pull, got ${s.vsn.length}`);
  }
  w.byte(0x87);
  w.put(K_ADDR);
  w.bin(s.addr);
  w.put(K_INCARNATION);
  w.uint(checkUint(s.incarnation, U32_MAX, "incarnation"));
  w.put(K_META);
  w.bin(s.meta);
  w.put(K_NAME);
  w.str(s.name);
  w.put(K_PORT);
  w.uint(checkUint(s.port, U16_MAX, "port"));
  w.put(K_STATE);
  w.uint(checkUint(s.state, StateCode.left, "state"));
  w.put(K_VSN);
  w.bin(s.vsn);
}

/** Append a stream user message (type byte, `{UserMsgLen}`, payload) to `w`. */
export function writeStreamUser(w: Writer, payload: Uint8Array): void {
  checkUint(payload.length, MAX_USER_BYTES, "user message length");
  w.byte(MessageType.user);
  w.byte(0x81);
  w.put(K_USER_MSG_LEN);
  w.uint(payload.length);
  w.put(payload);
}

// ---------------------------------------------------------------------------------------
// Decoding (one msgpack object per call, for StreamReader.object)

function pushPullHeaderField(r: Reader, key: string, h: Mutable<PushPullHeader>): boolean {
  switch (key) {
    case "Join":
      h.join = r.bool();
      break;
    case "Nodes":
      h.nodes = r.uint(MAX_PUSH_NODES);
      break;
    case "UserStateLen":
      h.userStateLen = r.uint(MAX_USER_BYTES);
      break;
    default:
      return false;
  }
  return true;
}

/** Read a `pushPullHeader` map. Limits: `Nodes` ≤ 1 048 576, `UserStateLen` ≤ 20 MiB. */
export function readPushPullHeader(r: Reader): PushPullHeader {
  return readStruct<Mutable<PushPullHeader>>(
    r,
    { join: false, nodes: 0, userStateLen: 0 },
    pushPullHeaderField,
  );
}

/** A push/pull node state as read. */
interface NodeStateFields extends MemberFields {
  name: string;
  state: number;
}

function nodeStateField(r: Reader, key: string, f: NodeStateFields): boolean {
  switch (key) {
    case "Name":
      f.name = r.str();
      return true;
    case "State":
      f.state = r.uint(StateCode.left);
      return true;
    default:
      return memberField(r, key, f);
  }
}

/**
 * Read one `pushNodeState` map, bytes copied out (values up to 32 bytes interned, so
 * read-only). `Addr` must be 4 or 16 bytes, `Vsn` 6 bytes or absent, `State` 0..3; anything
 * else is `bad-field`.
 */
export function readPushNodeState(r: Reader): NodeState {
  const f = readStruct<NodeStateFields>(r, {
    name: "",
    addr: null,
    port: 0,
    meta: null,
    incarnation: 0,
    state: 0,
    vsn: null,
  }, nodeStateField);
  const ip = decodedIp(f.addr, "Addr");
  const vsn = decodedVsn(f.vsn);
  return {
    name: f.name,
    addr: internBytes(ip),
    port: f.port,
    meta: f.meta === null ? null : internBytes(f.meta),
    incarnation: f.incarnation,
    state: f.state as StateCode,
    vsn: internBytes(vsn),
  };
}

function userMsgHeaderField(r: Reader, key: string, h: { len: number }): boolean {
  if (key !== "UserMsgLen") return false;
  h.len = r.uint(MAX_USER_BYTES);
  return true;
}

/** Read a `userMsgHeader` map and return `UserMsgLen` (≤ 20 MiB). */
export function readUserMsgHeader(r: Reader): number {
  return readStruct(r, { len: 0 }, userMsgHeaderField).len;
}
