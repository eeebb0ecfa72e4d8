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
  | "decrypt-failed";

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
 * Encodes and decodes datagram payloads. Implementations must be pure and must throw only
 * {@linkcode DecodeError} from {@linkcode Codec.decodePacket}.
 */
export interface Codec {
  /** Encode one message (type byte + body). */
  encode(message: Message): Uint8Array;
  /**
   * Build one datagram from already-encoded messages: a single part is sent as is, several
   * become a compound. Optional framing (CRC) is applied outermost.
   */
  frame(parts: readonly Uint8Array[], options?: FrameOptions): Uint8Array;
  /** Bytes a datagram of `parts` costs beyond the parts themselves, for `count` parts. */
  overhead(count: number, options?: FrameOptions): number;
  /** Decode a received datagram into its messages (compound, compression and CRC unwrapped). */
  decodePacket(bytes: Uint8Array): Message[];
}
