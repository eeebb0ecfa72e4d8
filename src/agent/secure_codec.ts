/**
 * memberlist's two outermost packet layers, gossip encryption and packet labels, as a
 * {@linkcode Codec} decorator around any inner codec (normally memberlist's).
 *
 * Layering, outermost first, as Go applies it: `[label] [encryption] [crc] [compress]
 * [compound]`. The inner codec does everything from the CRC inwards; this wrapper adds:
 *
 * - **Encryption** (memberlist's `SecretKey`/keyring, encryption version 1): AES-GCM with a
 *   16- or 32-byte key (24 works too, except in Deno, whose `node:crypto` lacks AES-192). A
 *   packet is `[0x01] [12-byte random nonce] [ciphertext] [16-byte tag]`, with the label as
 *   additional authenticated data. The first key encrypts; every key is tried to decrypt, so
 *   keys can be rotated. Version-0 packets (PKCS#7-padded, from protocol version 1) decrypt too.
 * - **Labels** (memberlist's `Label`): `[0xF4] [length] [label bytes]` prefixed to every
 *   packet. A packet whose label differs (or is missing) is dropped with `bad-label`, so two
 *   clusters sharing a network cannot mix.
 *
 * Uses the synchronous AES-GCM of `node:crypto`, which Deno, Bun and Node all provide, because
 * {@linkcode Codec} is synchronous.
 *
 * @module
 */

import { type CipherGCMTypes, createCipheriv, createDecipheriv } from "node:crypto";
import { type Codec, DecodeError, type FrameOptions } from "../core/codec.ts";
import type { Message } from "../core/messages.ts";

/** memberlist's `hasLabel` message type byte. */
const HAS_LABEL = 0xf4;
/** Longest label memberlist accepts. */
export const MAX_LABEL_LENGTH = 255;
const NONCE_SIZE = 12;
const TAG_SIZE = 16;
/** Bytes encryption version 1 adds to a packet: version, nonce and tag. */
export const ENCRYPTION_OVERHEAD: number = 1 + NONCE_SIZE + TAG_SIZE;

/** Options of {@linkcode createSecureCodec}. */
export interface SecureCodecOptions {
  /** AES keys (16, 24 or 32 bytes); the first encrypts, all decrypt. Empty: no encryption. */
  readonly keys?: readonly Uint8Array[];
  /** Packet label (1–255 bytes of UTF-8); empty or absent: no label. */
  readonly label?: string;
}

/** Thrown for an unusable key or label. */
export class SecureCodecError extends Error {
  /** Create the error. */
  constructor(message: string) {
    super(message);
    this.name = "SecureCodecError";
  }
}

function cipherName(key: Uint8Array): CipherGCMTypes {
  if (key.length !== 16 && key.length !== 24 && key.length !== 32) {
    throw new SecureCodecError(`a key must be 16, 24 or 32 bytes, got ${key.length}`);
  }
  return `aes-${key.length * 8}-gcm` as CipherGCMTypes;
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

/** Seal `plain` with `key` as encryption version 1. */
function seal(key: Uint8Array, plain: Uint8Array, aad: Uint8Array): Uint8Array {
  const nonce = crypto.getRandomValues(new Uint8Array(NONCE_SIZE));
  const cipher = createCipheriv(cipherName(key), key, nonce);
  if (aad.length) cipher.setAAD(aad);
  const body = concat(cipher.update(plain), cipher.final());
  return concat(new Uint8Array([1]), nonce, body, cipher.getAuthTag());
}

/** Open a version 0 or 1 packet with one key; `undefined` if it does not authenticate. */
function open(key: Uint8Array, packet: Uint8Array, aad: Uint8Array): Uint8Array | undefined {
  const nonce = packet.subarray(1, 1 + NONCE_SIZE);
  const body = packet.subarray(1 + NONCE_SIZE, packet.length - TAG_SIZE);
  const tag = packet.subarray(packet.length - TAG_SIZE);
  let plain: Uint8Array;
  try {
    const decipher = createDecipheriv(cipherName(key), key, nonce);
    if (aad.length) decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    plain = concat(decipher.update(body), decipher.final());
  } catch {
    return undefined;
  }
  if (packet[0] === 0) {
    // Version 0 pads to the AES block size with PKCS#7 before sealing.
    const pad = plain.length ? plain[plain.length - 1] : 0;
    if (pad < 1 || pad > 16 || pad > plain.length) return undefined;
    plain = plain.subarray(0, plain.length - pad);
  }
  return plain;
}

/**
 * Wrap `inner` with memberlist's encryption and label layers. With neither keys nor a label,
 * `inner` is returned unchanged. Throws {@linkcode SecureCodecError} for a bad key or label.
 *
 * @example
 * ```ts
 * import { createSecureCodec } from "./secure_codec.ts";
 * import { memberlistCodec } from "../wire/codec.ts";
 * const key = crypto.getRandomValues(new Uint8Array(32));
 * const codec = createSecureCodec(memberlistCodec, { keys: [key], label: "prod" });
 * const ping = codec.encode({ type: "ping", seqNo: 1, node: "b" });
 * codec.decodePacket(codec.frame([ping])); // [{ type: "ping", seqNo: 1, node: "b", ... }]
 * ```
 */
export function createSecureCodec(inner: Codec, options: SecureCodecOptions): Codec {
  const keys = [...(options.keys ?? [])];
  for (const key of keys) {
    const name = cipherName(key);
    try {
      createCipheriv(name, key, new Uint8Array(NONCE_SIZE)); // is this cipher available here?
    } catch (error) {
      throw new SecureCodecError(
        `${name} is not available in this runtime (${(error as Error).message}); ` +
          "use a 16- or 32-byte key",
      );
    }
  }
  const labelBytes = new TextEncoder().encode(options.label ?? "");
  if (labelBytes.length > MAX_LABEL_LENGTH) {
    throw new SecureCodecError(`a label must be at most ${MAX_LABEL_LENGTH} bytes`);
  }
  if (keys.length === 0 && labelBytes.length === 0) return inner;
  const labelHeader = labelBytes.length
    ? concat(new Uint8Array([HAS_LABEL, labelBytes.length]), labelBytes)
    : new Uint8Array(0);
  const extra = labelHeader.length + (keys.length ? ENCRYPTION_OVERHEAD : 0);

  return {
    encode(message: Message): Uint8Array {
      return inner.encode(message);
    },
    frame(parts: readonly Uint8Array[], frameOptions?: FrameOptions): Uint8Array {
      let packet = inner.frame(parts, frameOptions);
      if (keys.length) packet = seal(keys[0], packet, labelBytes);
      return labelHeader.length ? concat(labelHeader, packet) : packet;
    },
    overhead(count: number, frameOptions?: FrameOptions): number {
      return inner.overhead(count, frameOptions) + extra;
    },
    decodePacket(bytes: Uint8Array): Message[] {
      let packet = bytes;
      if (packet.length > 0 && packet[0] === HAS_LABEL) {
        if (packet.length < 2 || packet[1] === 0 || packet.length < 2 + packet[1]) {
          throw new DecodeError("bad-label", "malformed label header");
        }
        const got = packet.subarray(2, 2 + packet[1]);
        if (!sameBytes(got, labelBytes)) throw new DecodeError("bad-label", "label mismatch");
        packet = packet.subarray(2 + packet[1]);
      } else if (labelBytes.length) {
        throw new DecodeError("bad-label", "unlabelled packet");
      }
      if (keys.length) {
        if (packet.length < ENCRYPTION_OVERHEAD || packet[0] > 1) {
          throw new DecodeError("decrypt-failed", "not an encrypted packet");
        }
        let plain: Uint8Array | undefined;
        for (const key of keys) if ((plain = open(key, packet, labelBytes))) break;
        if (!plain) throw new DecodeError("decrypt-failed", "no key decrypts the packet");
        packet = plain;
      }
      return inner.decodePacket(packet);
    },
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
