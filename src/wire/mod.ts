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
export {
  decryptPayload,
  encryptedLength,
  encryptionOverhead,
  type EncryptionVersion,
  type EncryptOptions,
  encryptPayload,
} from "./encryption.ts";
export { formatKey, KEY_SIZES, Keyring, KeyringError, parseKey, validateKey } from "./keyring.ts";
export {
  addLabelHeader,
  encodeLabel,
  LABEL_MAX_SIZE,
  type Labelled,
  stripLabelHeader,
} from "./label.ts";
export { type SecurityOptions } from "./security.ts";
export {
  createPacketSecurity,
  type PacketSecurity,
  type PacketSecurityOptions,
} from "./packet_security.ts";
export { Deadline, type DeadlineOptions } from "./deadline.ts";
export { MAX_STREAM_MESSAGE, StreamReader, type StreamReaderOptions } from "./stream_reader.ts";
export {
  type ErrResp,
  MAX_PUSH_NODES,
  MAX_USER_BYTES,
  type PushPull,
  type PushPullHeader,
  type StreamMessage,
} from "./stream_messages.ts";
export {
  decodeStreamMessage,
  encodeStreamBody,
  encodeStreamMessage,
  MAX_DECOMPRESSED_STREAM,
  readStreamMessage,
  type StreamReadOptions,
  type StreamSide,
  type StreamWriteOptions,
  writeStreamMessage,
} from "./stream.ts";
export {
  type ExchangeOptions,
  RemoteStreamError,
  type ServeOutcome,
  serveStream,
  type StreamHandler,
  type StreamRequest,
  streamRequest,
} from "./stream_exchange.ts";
