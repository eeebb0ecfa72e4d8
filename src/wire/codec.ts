/**
 * memberlist's wire format as a {@linkcode Codec} for the SWIM core.
 *
 * @module
 */

import type { Codec, FrameOptions } from "../core/codec.ts";
import type { Message } from "../core/messages.ts";
import { encodeMessage } from "./messages.ts";
import { decodePacket, framePacket, type PacketDecodeOptions, packetOverhead } from "./packet.ts";

/** Options for {@linkcode createMemberlistCodec}. */
export interface MemberlistCodecOptions extends PacketDecodeOptions {
  /**
   * LZW-compress outgoing datagrams when that makes them strictly smaller, as Go does with
   * `EnableCompression`. Default `false` (Go accepts either). With it on,
   * {@linkcode Codec.overhead} is an upper bound rather than exact.
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
export function createMemberlistCodec(options: MemberlistCodecOptions = {}): Codec {
  const decodeOptions: PacketDecodeOptions = {
    maxDatagram: options.maxDatagram,
    maxDecompressed: options.maxDecompressed,
    maxDepth: options.maxDepth,
  };
  const compress = options.compress === true;
  return {
    encode(message: Message): Uint8Array {
      return encodeMessage(message);
    },
    frame(parts: readonly Uint8Array[], frameOptions?: FrameOptions): Uint8Array {
      return framePacket(parts, { crc: frameOptions?.crc, compress });
    },
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
export const memberlistCodec: Codec = createMemberlistCodec();
