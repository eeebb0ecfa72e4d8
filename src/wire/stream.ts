/**
 * Stream messages on the wire (protocol.md §6): framing in both directions and the high-level
 * {@linkcode readStreamMessage} / {@linkcode writeStreamMessage}.
 *
 * A stream message, outermost first:
 *
 * ```
 * [label header]   0xF4 len label                      dialer only, memberlist ≥ 0.3
 * [encryption]     0x0A, L (uint32 BE), blob of L bytes  AAD = 0x0A L ‖ label
 * [compression]    0x09, msgpack {Algo: 0, Buf: LZW(message)}
 * message          type byte + msgpack object(s) [+ raw bytes]
 * ```
 *
 * Reading is incremental and linear in the bytes received (the body of a plain message is
 * decoded object by object straight off the connection, each object once it is all there) and
 * bounded: 20 MiB on the wire, 40 MiB decompressed, memberlist's
 * header limits, and an optional deadline. Bad bytes reject with {@linkcode DecodeError}; an
 * acceptor answers them with an `err` message (protocol.md §6.1). A deadline rejects with
 * `StreamError` `timeout` after closing the connection.
 *
 * @module
 */

import { DecodeError } from "../core/codec.ts";
import { MessageType } from "../core/messages.ts";
import type { StreamConn } from "./conn.ts";
import { Deadline, type DeadlineOptions } from "./deadline.ts";
import { decryptPayload, encryptedLength, encryptPayload } from "./encryption.ts";
import { addLabelHeader } from "./label.ts";
import { lzwDecompress } from "./lzw.ts";
import { encodeErrResp, readErrRespBody, readMessageBody, writeMessage } from "./messages.ts";
import { Writer } from "./msgpack.ts";
import { encodeCompress, readCompressBody } from "./packet.ts";
import { checkInboundLabel, resolveSecurity, type SecurityOptions } from "./security.ts";
import {
  readPushNodeState,
  readPushPullHeader,
  readUserMsgHeader,
  type StreamMessage,
  writePushPull,
  writeStreamUser,
} from "./stream_messages.ts";
import { MAX_STREAM_MESSAGE, type ReadWork, StreamReader } from "./stream_reader.ts";

/** Default cap on a decompressed stream message (upstream memberlist's limit). */
export const MAX_DECOMPRESSED_STREAM = 40 * 1024 * 1024;
/** Bytes of the encryption header: `0x0A` and a big-endian uint32 length. */
export const STREAM_ENCRYPT_HEADER = 5;

/**
 * Which end of the connection this is. Only the dialer writes the label header, and only the
 * acceptor reads one.
 */
export type StreamSide = "dialer" | "acceptor";

/** Options of {@linkcode readStreamMessage} and {@linkcode decodeStreamMessage}. */
export interface StreamReadOptions extends SecurityOptions, DeadlineOptions {
  /** `acceptor` when reading a request (a label header may come first), `dialer` for a reply. */
  readonly side: StreamSide;
  /** Most bytes read off the connection; default 20 MiB. */
  readonly maxMessageBytes?: number;
  /** Most bytes a compressed message may expand to; default 40 MiB. */
  readonly maxDecompressedBytes?: number;
  /**
   * Message types to accept; any other is `unknown-type`. An acceptor reading a request
   * wants `["pushPull", "ping", "user"]`; a dialer reading a reply `["pushPull", "err"]` or
   * `["ack", "err"]`. Default: every stream message type.
   */
  readonly accept?: readonly StreamMessage["type"][];
  /** Add the msgpack decoding work done to this counter (for tests and benchmarks). */
  readonly work?: ReadWork;
}

/** Options of {@linkcode writeStreamMessage} and {@linkcode encodeStreamMessage}. */
export interface StreamWriteOptions extends SecurityOptions, DeadlineOptions {
  /** `dialer` for a request (writes the label header, if any), `acceptor` for a reply. */
  readonly side: StreamSide;
  /**
   * LZW-compress the message, as Go does for every stream when `EnableCompression` is on
   * (even when that makes it larger). Default false: Go accepts either.
   */
  readonly compress?: boolean;
  /** A fixed nonce, for test vectors only. */
  readonly nonce?: Uint8Array;
}

/**
 * The message itself, type byte + body, without framing.
 *
 * @throws {RangeError} for a message that does not fit memberlist's fields or limits.
 */
export function encodeStreamBody(message: StreamMessage): Uint8Array {
  const w = new Writer(message.type === "pushPull" ? 256 * (message.states.length + 1) : 256);
  switch (message.type) {
    case "pushPull":
      writePushPull(w, message);
      break;
    case "user":
      writeStreamUser(w, message.payload);
      break;
    case "err":
      w.put(encodeErrResp(message.error));
      break;
    case "ping":
    case "ack":
      writeMessage(w, message);
      break;
    default:
      throw new RangeError(`not a stream message: ${(message as { type: unknown }).type}`);
  }
  return w.view(); // the writer is not reused: its buffer can be handed out
}

/**
 * Encode a complete stream message with its framing: compression if asked, encryption with
 * a keyring (unless `verifyOutgoing` is false), and the label header on the dialer side.
 *
 * @throws {RangeError} for a message that does not fit memberlist's fields or limits.
 *
 * @example
 * ```ts
 * import { encodeStreamMessage } from "./stream.ts";
 * await encodeStreamMessage({ type: "user", payload: new TextEncoder().encode("hello") }, {
 *   side: "dialer",
 * }); // 08 81 aa "UserMsgLen" 05 "hello"
 * ```
 */
export async function encodeStreamMessage(
  message: StreamMessage,
  options: StreamWriteOptions,
): Promise<Uint8Array> {
  const s = resolveSecurity(options);
  let bytes = encodeStreamBody(message);
  if (options.compress) bytes = encodeCompress(bytes);
  if (s.encryptOutgoing) {
    const length = encryptedLength(s.encryptionVersion, bytes.length);
    if (length > MAX_STREAM_MESSAGE) {
      throw new RangeError(`encrypted stream message of ${length} bytes exceeds 20 MiB`);
    }
    const header = new Uint8Array(STREAM_ENCRYPT_HEADER);
    header[0] = MessageType.encrypt;
    new DataView(header.buffer).setUint32(1, length);
    const blob = await encryptPayload(s.keyring!, bytes, {
      version: s.encryptionVersion,
      aad: concat(header, s.label),
      nonce: options.nonce,
    });
    bytes = concat(header, blob);
  }
  return options.side === "dialer" ? addLabelHeader(s.label, bytes) : bytes;
}

/**
 * Encode `message` with its framing and write it to `conn` (within the deadline, if any).
 * Does not close the connection.
 *
 * @throws {RangeError} for a message that does not fit memberlist's fields or limits.
 * @throws {StreamError} `timeout`, `closed` or `io` when the write fails.
 */
export async function writeStreamMessage(
  conn: StreamConn,
  message: StreamMessage,
  options: StreamWriteOptions,
): Promise<void> {
  await writeStreamBytes(conn, await encodeStreamMessage(message, options), options);
}

/**
 * Write bytes already encoded with {@linkcode encodeStreamMessage} to `conn` within the
 * deadline, if any. Does not close the connection.
 *
 * @throws {StreamError} `timeout`, `closed` or `io` when the write fails.
 */
export async function writeStreamBytes(
  conn: StreamConn,
  bytes: Uint8Array,
  options: DeadlineOptions,
): Promise<void> {
  const deadline = new Deadline(options, () => void conn.close());
  try {
    await deadline.race(conn.write(bytes));
  } finally {
    deadline.dispose();
  }
}

/**
 * Read one stream message from `conn`: label header (acceptor side), decryption,
 * decompression, then the typed body. Does not close the connection.
 *
 * @throws {DecodeError} for bad bytes or a message cut short: `bad-label`, `decrypt-failed`
 * (also for an encrypted stream without keys, or a plaintext one when encryption is
 * required), `oversized`, `truncated`, `empty`, `bad-compression`, `unknown-type`,
 * `bad-msgpack`, `bad-field`, `too-deep`.
 * @throws {StreamError} `timeout` when the deadline passes.
 *
 * @example
 * ```ts
 * import { readStreamMessage } from "./stream.ts";
 * import type { StreamConn } from "./conn.ts";
 * declare const conn: StreamConn; // an accepted connection
 * const request = await readStreamMessage(conn, { side: "acceptor", timeoutMs: 10_000 });
 * if (request.type === "pushPull") console.log(request.states.length, "members");
 * ```
 */
export async function readStreamMessage(
  conn: StreamConn,
  options: StreamReadOptions,
): Promise<StreamMessage> {
  const reader = new StreamReader(conn, {
    signal: options.signal,
    timeoutMs: options.timeoutMs,
    maxBytes: options.maxMessageBytes ?? MAX_STREAM_MESSAGE,
    work: options.work,
  });
  try {
    return await readFramed(reader, options);
  } finally {
    reader.dispose();
  }
}

/**
 * Decode a complete stream message held in memory (what {@linkcode readStreamMessage} reads
 * off a connection). Same errors, without the deadline.
 */
export async function decodeStreamMessage(
  bytes: Uint8Array,
  options: StreamReadOptions,
): Promise<StreamMessage> {
  const max = options.maxMessageBytes ?? MAX_STREAM_MESSAGE;
  if (bytes.length > max) {
    throw new DecodeError("oversized", `stream message of ${bytes.length} bytes > ${max}`);
  }
  return await readFramed(StreamReader.fromBytes(bytes, options.work), options);
}

async function readFramed(
  reader: StreamReader,
  options: StreamReadOptions,
): Promise<StreamMessage> {
  const s = resolveSecurity(options);
  const maxMessage = options.maxMessageBytes ?? MAX_STREAM_MESSAGE;
  let type = await reader.byte();
  let label = s.label;
  if (options.side === "acceptor") {
    let received: Uint8Array = new Uint8Array(0);
    if (type === MessageType.hasLabel) {
      const size = await reader.byte();
      if (size === 0) {
        throw new DecodeError("bad-label", "label header cannot be empty when present");
      }
      received = await reader.bytes(size);
      type = await reader.byte();
    }
    label = checkInboundLabel(received, s);
  }
  let body = reader;
  if (type === MessageType.encrypt) {
    if (!s.keyring) {
      throw new DecodeError(
        "decrypt-failed",
        "remote state is encrypted and encryption is not configured",
      );
    }
    const lengthBytes = await reader.bytes(4);
    const length = new DataView(lengthBytes.buffer).getUint32(0);
    if (length > maxMessage) {
      throw new DecodeError("oversized", `remote state of ${length} bytes is larger than limit`);
    }
    const blob = await reader.bytes(length);
    const aad = concat(new Uint8Array([MessageType.encrypt]), lengthBytes, label);
    const plain = await decryptPayload(s.keyring, blob, aad);
    if (plain.length === 0) throw new DecodeError("empty", "encrypted stream message is empty");
    body = StreamReader.fromBytes(plain, options.work);
    type = await body.byte();
  } else if (s.verifyIncoming) {
    throw new DecodeError(
      "decrypt-failed",
      "encryption is configured but remote state is not encrypted",
    );
  }
  if (type === MessageType.compress) {
    const data = await body.object(readCompressBody);
    const inner = lzwDecompress(data, options.maxDecompressedBytes ?? MAX_DECOMPRESSED_STREAM);
    if (inner.length === 0) throw new DecodeError("empty", "compressed stream message is empty");
    body = StreamReader.fromBytes(inner, options.work);
    type = await body.byte();
  }
  const name = TYPE_NAMES[type];
  if (name === undefined || (options.accept && !options.accept.includes(name))) {
    throw new DecodeError("unknown-type", `message type ${type} is not accepted here`);
  }
  return await readBody(type, body);
}

const TYPE_NAMES: Record<number, StreamMessage["type"]> = {
  [MessageType.pushPull]: "pushPull",
  [MessageType.ping]: "ping",
  [MessageType.ack]: "ack",
  [MessageType.user]: "user",
  [MessageType.err]: "err",
};

async function readBody(type: number, body: StreamReader): Promise<StreamMessage> {
  switch (type) {
    case MessageType.pushPull: {
      const header = await body.object(readPushPullHeader);
      const states = [];
      for (let i = 0; i < header.nodes; i++) {
        states.push(await body.object(readPushNodeState));
        if ((i & 63) === 63) await body.pace();
      }
      const userState = await body.bytes(header.userStateLen);
      return { type: "pushPull", join: header.join, states, userState };
    }
    case MessageType.ping:
    case MessageType.ack: {
      const m = await body.object((r) => readMessageBody(type, r));
      return m as StreamMessage;
    }
    case MessageType.user: {
      const length = await body.object(readUserMsgHeader);
      return { type: "user", payload: await body.bytes(length) };
    }
    case MessageType.err:
      return { type: "err", error: await body.object(readErrRespBody) };
    default:
      throw new DecodeError("unknown-type", `message type ${type} is not a stream message`);
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
