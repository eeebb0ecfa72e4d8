/**
 * memberlist's wire format as a {@linkcode Codec} for the SWIM core.
 *
 * @module
 */

import type { Codec, FrameOptions, Packer } from "../core/codec.ts";
import type { Message } from "../core/messages.ts";
import { encodeMessage } from "./messages.ts";
import {
  decodePacket,
  framePacket,
  MAX_COMPOUND_PARTS,
  type PacketDecodeOptions,
  packetOverhead,
} from "./packet.ts";

/** memberlist's codec: the core's {@linkcode Codec} plus direct framing, for tests and tools. */
export interface MemberlistCodec extends Codec {
  /**
   * Build one datagram from already-encoded messages: a single part is sent as is, several
   * become a compound. Optional framing (CRC) is applied outermost.
   */
  frame(parts: readonly Uint8Array[], options?: FrameOptions): Uint8Array;
  /** Bytes a datagram of `count` parts costs beyond the parts themselves. */
  overhead(count: number, options?: FrameOptions): number;
}

/** Options for {@linkcode createMemberlistCodec}. */
export interface MemberlistCodecOptions extends PacketDecodeOptions {
  /**
   * LZW-compress outgoing datagrams when that makes them strictly smaller, as Go does with
   * `EnableCompression`. Default `false` (Go accepts either). With it on, a packer's budget
   * is an upper bound rather than exact.
   */
  readonly compress?: boolean;
}

/**
 * Create a memberlist codec. Decoding limits default to a 65 536-byte datagram, 1 MiB of
 * total decompressed data per packet and 4 nested compound/compress layers.
 *
 * @example
 * ```ts
 * import { createMemberlistCodec } from "./codec.ts";
 * const codec = createMemberlistCodec({ maxDecompressed: 256 * 1024 });
 * const ping = codec.encode({ type: "ping", seqNo: 1, node: "node-b" });
 * codec.decodePacket(codec.frame([ping], { crc: true })); // [{ type: "ping", ... }]
 * ```
 */
export function createMemberlistCodec(options: MemberlistCodecOptions = {}): MemberlistCodec {
  const decodeOptions: PacketDecodeOptions = {
    maxDatagram: options.maxDatagram,
    maxDecompressed: options.maxDecompressed,
    maxDepth: options.maxDepth,
    maxMessages: options.maxMessages,
  };
  const compress = options.compress === true;
  const frame = (parts: readonly Uint8Array[], frameOptions?: FrameOptions): Uint8Array =>
    framePacket(parts, { crc: frameOptions?.crc, compress });
  return {
    encode(message: Message): Uint8Array {
      return encodeMessage(message);
    },
    packer(budget: number, frameOptions?: FrameOptions): Packer {
      return new CompoundPacker(budget, frameOptions ?? {}, frame);
    },
    frame,
    overhead(count: number, frameOptions?: FrameOptions): number {
      return packetOverhead(count, frameOptions);
    },
    decodePacket(bytes: Uint8Array): Message[] {
      return decodePacket(bytes, decodeOptions);
    },
  };
}

/**
 * The default memberlist codec: no outgoing compression, default decoding limits.
 *
 * @example
 * ```ts
 * import { memberlistCodec } from "./codec.ts";
 * const bytes = memberlistCodec.encode({ type: "nack", seqNo: 7 });
 * memberlistCodec.decodePacket(bytes); // [{ type: "nack", seqNo: 7 }]
 * ```
 */
export const memberlistCodec: MemberlistCodec = createMemberlistCodec();

/**
 * Packs parts into a compound: a fixed header (type and count, plus the CRC wrapper) and a
 * 2-byte length per part. A lone part is sent bare, so the budget is conservative for it.
 */
class CompoundPacker implements Packer {
  readonly #parts: Uint8Array[] = [];
  readonly #options: FrameOptions;
  readonly #frame: (parts: readonly Uint8Array[], options?: FrameOptions) => Uint8Array;
  readonly #perPart: number;
  /** Bytes left for parts and their lengths. */
  #space: number;

  constructor(
    budget: number,
    options: FrameOptions,
    frame: (parts: readonly Uint8Array[], options?: FrameOptions) => Uint8Array,
  ) {
    const two = packetOverhead(2, options);
    this.#perPart = packetOverhead(3, options) - two;
    this.#space = budget - (two - 2 * this.#perPart);
    this.#options = options;
    this.#frame = frame;
  }

  get count(): number {
    return this.#parts.length;
  }

  get free(): number {
    return this.#space;
  }

  room(reserve = 0): number {
    if (this.#parts.length >= MAX_COMPOUND_PARTS) return 0;
    return Math.max(0, this.#space - reserve - this.#perPart);
  }

  add(part: Uint8Array): boolean {
    if (this.#parts.length > 0 && part.length > this.room()) return false;
    this.#parts.push(part);
    this.#space -= this.#perPart + part.length;
    return true;
  }

  finish(): Uint8Array {
    return this.#frame(this.#parts, this.#options);
  }
}
