/**
 * The protocol messages a SWIM node exchanges, as plain data.
 *
 * Field names follow memberlist's structs (protocol.md §5) in camelCase; the wire codec
 * (`src/wire`) maps them to the exact capitalised msgpack keys. Addresses are kept as the
 * raw IP bytes a peer announced (4 or 16 bytes), never normalised, so re-gossip is
 * byte-identical (protocol.md §7.7).
 *
 * @module
 */

import type { StateCode } from "./member.ts";

/** memberlist message type bytes (protocol.md §2). */
export const MessageType = {
  ping: 0,
  indirectPing: 1,
  ack: 2,
  suspect: 3,
  alive: 4,
  dead: 5,
  pushPull: 6,
  compound: 7,
  user: 8,
  compress: 9,
  encrypt: 10,
  nack: 11,
  hasCrc: 12,
  err: 13,
  hasLabel: 244,
} as const;

/** A direct probe: "are you alive?" (protocol.md §5.1). */
export interface Ping {
  /** Message discriminator. */
  readonly type: "ping";
  /** The prober's sequence number; echoed in the ack. */
  readonly seqNo: number;
  /** Name of the intended recipient; empty accepts any recipient. */
  readonly node: string;
  /** Where the ack should go (the prober's advertised address), if given. */
  readonly sourceAddr?: Uint8Array;
  /** The prober's advertised port, if given. */
  readonly sourcePort?: number;
  /** The prober's name, if given. */
  readonly sourceNode?: string;
}

/** A request to probe `node` on the requester's behalf (protocol.md §5.2). */
export interface IndirectPing {
  /** Message discriminator. */
  readonly type: "indirectPing";
  /** The requester's sequence number, echoed in the relayed ack or nack. */
  readonly seqNo: number;
  /** Target IP bytes. */
  readonly target: Uint8Array;
  /** Target port. */
  readonly port: number;
  /** Target name. */
  readonly node: string;
  /** Send a nack if the target does not answer in time. */
  readonly nack: boolean;
  /** Requester's address, if given. */
  readonly sourceAddr?: Uint8Array;
  /** Requester's port, if given. */
  readonly sourcePort?: number;
  /** Requester's name, if given. */
  readonly sourceNode?: string;
}

/** The answer to a ping (protocol.md §5.3). */
export interface Ack {
  /** Message discriminator. */
  readonly type: "ack";
  /** Sequence number copied from the ping. */
  readonly seqNo: number;
  /** Opaque payload (Serf puts coordinates here); `null` encodes as msgpack nil. */
  readonly payload: Uint8Array | null;
}

/** An intermediary's "the target did not answer me" (protocol.md §5.4). */
export interface Nack {
  /** Message discriminator. */
  readonly type: "nack";
  /** The requester's sequence number. */
  readonly seqNo: number;
}

/** Rumour: `node` at `incarnation` is suspected by `from` (protocol.md §5.6). */
export interface Suspect {
  /** Message discriminator. */
  readonly type: "suspect";
  /** Incarnation the rumour is about. */
  readonly incarnation: number;
  /** Name of the member the rumour is about. */
  readonly node: string;
  /** Name of the member that raised it. */
  readonly from: string;
}

/** Rumour: `node` is alive at `incarnation`, with this address and metadata (protocol.md §5.7). */
export interface Alive {
  /** Message discriminator. */
  readonly type: "alive";
  /** Incarnation the rumour is about. */
  readonly incarnation: number;
  /** Name of the member the rumour is about. */
  readonly node: string;
  /** Raw IP bytes, 4 or 16, exactly as announced. */
  readonly addr: Uint8Array;
  /** The `port` field. */
  readonly port: number;
  /** Application metadata (≤ 512 bytes); `null` encodes as msgpack nil. */
  readonly meta: Uint8Array | null;
  /** Protocol versions `[PMin, PMax, PCur, DMin, DMax, DCur]` (protocol.md §14): 6 bytes, or empty when a peer omitted it. */
  readonly vsn: Uint8Array;
}

/** Rumour: `node` is dead; when `from === node` it left gracefully (protocol.md §5.8). */
export interface Dead {
  /** Message discriminator. */
  readonly type: "dead";
  /** Incarnation the rumour is about. */
  readonly incarnation: number;
  /** Name of the member the rumour is about. */
  readonly node: string;
  /** Name of the member that raised it. */
  readonly from: string;
}

/** An opaque application message (protocol.md §3.7). */
export interface UserMessage {
  /** Message discriminator. */
  readonly type: "user";
  /** The application bytes. */
  readonly payload: Uint8Array;
}

/** Every message that can travel in a datagram. */
export type Message = Ping | IndirectPing | Ack | Nack | Suspect | Alive | Dead | UserMessage;

/** Messages that spread by gossip and change the membership table. */
export type Rumour = Suspect | Alive | Dead;

/**
 * Everything a member knows about one member, as exchanged in full-state sync (memberlist's
 * push/pull `pushNodeState`, protocol.md §5.9). `state`: 0 alive, 1 suspect, 2 dead, 3 left.
 */
export interface NodeState {
  /** Member name. */
  readonly name: string;
  /** Raw IP bytes, 4 or 16, exactly as announced. */
  readonly addr: Uint8Array;
  /** The member's port. */
  readonly port: number;
  /** Application metadata, `null` when none. */
  readonly meta: Uint8Array | null;
  /** The member's incarnation. */
  readonly incarnation: number;
  /** {@linkcode StateCode}: 0 alive, 1 suspect, 2 dead, 3 left. */
  readonly state: StateCode;
  /** Protocol versions (6 bytes, or empty when a peer omitted them). */
  readonly vsn: Uint8Array;
}

/** A full-state exchange over a stream (protocol.md §6.4): request and reply have this shape. */
export interface PushPull {
  /** Message discriminator. */
  readonly type: "pushPull";
  /** Part of a join (the reply echoes the request's value). */
  readonly join: boolean;
  /** The sender's whole member table, itself included. */
  readonly states: readonly NodeState[];
  /** Opaque delegate state (`LocalState`); empty when there is none. */
  readonly userState: Uint8Array;
}

/** What a dialer may ask over a stream: a full-state exchange, the fallback probe, a user message. */
export type StreamRequest = PushPull | Ping | UserMessage;

/** What an acceptor answers: a push/pull with its own state, or the ack of a ping. */
export type StreamReply = PushPull | Ack;
