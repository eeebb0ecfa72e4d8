/**
 * HashiCorp memberlist's wire format: msgpack dialect, LZW, CRC, packet framing and the
 * {@linkcode Codec} the SWIM core uses.
 *
 * @module
 */

export { createMemberlistCodec, memberlistCodec, type MemberlistCodecOptions } from "./codec.ts";
export { crc32 } from "./crc.ts";
export { lzwCompress, lzwDecompress } from "./lzw.ts";
export {
  decodeErrResp,
  decodeMessage,
  encodeErrResp,
  encodeMessage,
  readErrRespBody,
  readMessageBody,
  VSN_LENGTH,
  writeMessage,
} from "./messages.ts";
export { MAX_SKIP_DEPTH, rawKey, Reader, U16_MAX, U32_MAX, U8_MAX, Writer } from "./msgpack.ts";
export {
  ALGO_LZW,
  compoundOverhead,
  compressIfSmaller,
  CRC_OVERHEAD,
  decodePacket,
  DEFAULT_MAX_DECOMPRESSED,
  DEFAULT_MAX_DEPTH,
  encodeCompound,
  encodeCompress,
  framePacket,
  MAX_COMPOUND_PARTS,
  MAX_DATAGRAM,
  MAX_PART_LENGTH,
  type PacketDecodeOptions,
  type PacketFrameOptions,
  packetOverhead,
  wrapCrc,
} from "./packet.ts";
