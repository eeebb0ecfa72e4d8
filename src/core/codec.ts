/**
 * The boundary between the pure protocol core and a wire format.
 *
 * The core never touches bytes directly: it asks a {@linkcode Codec} to encode the messages
 * it wants to send and to decode the datagrams it receives. shoal ships memberlist's wire
 * format (`src/wire`), but the core only knows this interface (as foca's `Codec`).
 *
 * @module
 */

import type { Message } from "./messages.ts";

/** Why a datagram could not be decoded. Used as a metric label. */
export type DecodeErrorKind =
  | "empty"
  | "truncated"
  | "oversized"
  | "unknown-type"
  | "bad-msgpack"
  | "bad-field"
  | "bad-crc"
  | "bad-compression"
  | "too-deep"
  | "too-many-parts"
  | "bad-label"
  | "decrypt-failed"
  | "overloaded";

/**
 * A typed failure to decode untrusted bytes. Decoders throw only this; the receiver counts
 * it by {@linkcode DecodeError.kind} and drops the packet.
 *
 * @example
 * ```ts
 * import { DecodeError } from "@shoal/swim";
 * const err = new DecodeError("truncated", "compound length 40 > 12 remaining");
 * console.log(err.kind); // "truncated"
 * ```
 */
export class DecodeError extends Error {
  /** The failure's category. */
  readonly kind: DecodeErrorKind;
  /** Create a decode error of `kind` with a human-readable `message`. */
  constructor(kind: DecodeErrorKind, message: string) {
    super(message);
    this.name = "DecodeError";
    this.kind = kind;
  }
}

/** Options for framing an outgoing datagram. */
export interface FrameOptions {
  /** Wrap the packet in memberlist's CRC layer (the recipient's PMax ≥ 5). */
  readonly crc?: boolean;
}

/**
 * Packs encoded messages into one datagram within a byte budget (protocol.md §3.6). The codec
 * owns the framing, so only it knows what each part costs.
 */
export interface Packer {
  /** Messages packed so far. */
  readonly count: number;
  /** Bytes of the budget left for more messages and their framing. */
  readonly free: number;
  /**
   * The largest message that still fits, keeping `reserve` bytes free; 0 when the datagram
   * is full (also when it holds the most parts a compound may carry).
   */
  room(reserve?: number): number;
  /**
   * Add an encoded message if it fits; false (and nothing added) otherwise. The first message
   * is always taken: a datagram carries at least one, and its sender sized it.
   */
  add(part: Uint8Array): boolean;
  /** The datagram: one message as is, several as a compound; CRC framing outermost. */
  finish(): Uint8Array;
}

/**
 * Encodes and decodes datagram payloads. Implementations must be pure and must throw only
 * {@linkcode DecodeError} from {@linkcode Codec.decodePacket}.
 */
export interface Codec {
  /** Encode one message (type byte + body). */
  encode(message: Message): Uint8Array;
  /** A packer for one datagram of at most `budget` bytes. */
  packer(budget: number, options?: FrameOptions): Packer;
  /** Decode a received datagram into its messages (compound, compression and CRC unwrapped). */
  decodePacket(bytes: Uint8Array): Message[];
}
