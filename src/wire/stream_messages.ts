/**
 * The messages that travel on streams (spec §5.9, §6.4–6.6) as plain data, and their msgpack
 * pieces. A stream carries one request and at most one reply:
 *
 * | Message | Request | Reply to |
 * |---|---|---|
 * | {@linkcode PushPull} (type 6) | full-state exchange, periodic or on join | a push/pull |
 * | `Ping` (type 0) | the fallback probe | — |
 * | `Ack` (type 2) | — | a ping |
 * | `UserMessage` (type 8) | a reliable user message (no reply) | — |
 * | {@linkcode ErrResp} (type 13) | — | a request the acceptor could not read |
 *
 * `Ping`, `Ack` and `UserMessage` are the packet types of `src/core/messages.ts`, unchanged.
 *
 * Decoding follows the packet decoders' conventions (liberal msgpack, copied bytes, Go's
 * zero values for missing keys) plus memberlist ≥ 0.6.0's limits: `Nodes` ≤ 1 048 576,
 * `UserStateLen` and `UserMsgLen` ≤ 20 MiB, never negative (`bad-field`).
 *
 * @module
 */

import { DecodeError } from "../core/codec.ts";
import { type Ack, MessageType, type Ping, type UserMessage } from "../core/messages.ts";
import { VSN_LENGTH } from "./messages.ts";
import { rawKey, type Reader, U16_MAX, U32_MAX, type Writer } from "./msgpack.ts";
import { MAX_STREAM_MESSAGE } from "./stream_reader.ts";
import { internBytes } from "./alloc.ts";

const EMPTY = new Uint8Array(0);

/** Most node states one push/pull may announce (memberlist ≥ 0.6.0). */
export const MAX_PUSH_NODES = 1_048_576;
/** Most bytes of user state in a push/pull, or of a stream user message. */
export const MAX_USER_BYTES = MAX_STREAM_MESSAGE;

/** memberlist's node states as they appear in push/pull entries. */
export const PushState: {
  readonly alive: 0;
  readonly suspect: 1;
  readonly dead: 2;
  readonly left: 3;
} = { alive: 0, suspect: 1, dead: 2, left: 3 };

/** A node state code: 0 alive, 1 suspect, 2 dead, 3 left. */
export type PushStateCode = (typeof PushState)[keyof typeof PushState];

/**
 * One entry of a push/pull: everything a node knows about one member (spec §5.9,
 * `pushNodeState`). Relay `addr`, `port`, `meta` and `vsn` byte for byte (spec §7.7).
 */
export interface PushNodeState {
  /** Member name (Go's `Name`, not `Node`). */
  readonly name: string;
  /** Raw IP bytes, 4 or 16, exactly as announced. */
  readonly addr: Uint8Array;
  /** The member's port (0 means "the receiver's bind port" to Go). */
  readonly port: number;
  /** Application metadata; `null` encodes as msgpack nil. */
  readonly meta: Uint8Array | null;
  /** The member's incarnation. */
  readonly incarnation: number;
  /** {@linkcode PushState}: 0 alive, 1 suspect, 2 dead, 3 left. */
  readonly state: PushStateCode;
  /**
   * `[PMin, PMax, PCur, DMin, DMax, DCur]` (spec §14): always 6 bytes when encoding (a short
   * Vsn crashes Go); decodes as empty when a peer left it out.
   */
  readonly vsn: Uint8Array;
}

/** A full-state exchange (spec §6.4): the request and the reply have the same shape. */
export interface PushPull {
  /** Message discriminator. */
  readonly type: "pushPull";
  /** Part of a join (the reply echoes the request's value). */
  readonly join: boolean;
  /** The sender's whole member table, itself included. */
  readonly states: readonly PushNodeState[];
  /** Opaque delegate state (`LocalState`); empty when there is none. */
  readonly userState: Uint8Array;
}

/** The acceptor's "I could not read your request" (spec §5.5, §6.1). */
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

function checkUint(v: number, max: number, field: string): number {
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new RangeError(`${field} must be an integer in 0..${max}, got ${v}`);
  }
  return v;
}

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

/** Append one `pushNodeState` map to `w` (keys `Addr … Vsn`, sorted). */
export function writePushNodeState(w: Writer, s: PushNodeState): void {
  if (s.addr.length !== 4 && s.addr.length !== 16) {
    throw new RangeError(`addr must be 4 or 16 IP bytes, got ${s.addr.length}`);
  }
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
  w.uint(checkUint(s.state, PushState.left, "state"));
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

/** Read a `pushPullHeader` map. Limits: `Nodes` ≤ 1 048 576, `UserStateLen` ≤ 20 MiB. */
export function readPushPullHeader(r: Reader): PushPullHeader {
  let join = false;
  let nodes = 0;
  let userStateLen = 0;
  for (let n = r.mapHeader(); n > 0; n--) {
    switch (r.key()) {
      case "Join":
        join = r.bool();
        break;
      case "Nodes":
        nodes = r.uint(MAX_PUSH_NODES);
        break;
      case "UserStateLen":
        userStateLen = r.uint(MAX_USER_BYTES);
        break;
      default:
        r.skip();
    }
  }
  return { join, nodes, userStateLen };
}

/**
 * Read one `pushNodeState` map (bytes copied out; small ones interned and read-only). `Addr` must be 4 or 16 bytes, `Vsn` 6
 * bytes or absent, `State` 0..3; anything else is `bad-field`.
 */
export function readPushNodeState(r: Reader): PushNodeState {
  let name = "";
  let addr: Uint8Array | null = null;
  let port = 0;
  let meta: Uint8Array | null = null;
  let incarnation = 0;
  let state = 0;
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
      case "Name":
        name = r.str();
        break;
      case "Port":
        port = r.uint(U16_MAX);
        break;
      case "State":
        state = r.uint(PushState.left);
        break;
      case "Vsn":
        vsn = r.bytesView();
        break;
      default:
        r.skip();
    }
  }
  if (addr === null || (addr.length !== 4 && addr.length !== 16)) {
    throw new DecodeError("bad-field", `Addr must be 4 or 16 IP bytes, got ${addr?.length ?? 0}`);
  }
  vsn ??= EMPTY;
  if (vsn.length !== VSN_LENGTH && vsn.length !== 0) {
    throw new DecodeError("bad-field", `Vsn must be ${VSN_LENGTH} bytes, got ${vsn.length}`);
  }
  // Copied out of the input; small values are interned (shared, read-only).
  return {
    name,
    addr: internBytes(addr),
    port,
    meta: meta === null ? null : internBytes(meta),
    incarnation,
    state: state as PushStateCode,
    vsn: internBytes(vsn),
  };
}

/** Read a `userMsgHeader` map and return `UserMsgLen` (≤ 20 MiB). */
export function readUserMsgHeader(r: Reader): number {
  let len = 0;
  for (let n = r.mapHeader(); n > 0; n--) {
    if (r.key() === "UserMsgLen") len = r.uint(MAX_USER_BYTES);
    else r.skip();
  }
  return len;
}
