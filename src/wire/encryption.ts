/**
 * memberlist's AES-GCM blob (protocol.md §3.3, §6.2), over WebCrypto:
 *
 * ```
 * +-----+--------------+------------------------------------+---------+
 * | vsn | nonce (12 B) | ciphertext (len(pt) [+pad])        | tag 16B |
 * +-----+--------------+------------------------------------+---------+
 * ```
 *
 * Version 0 PKCS#7-pads the plaintext to a multiple of 16 bytes (1..16 pad bytes, always
 * present); version 1 does not pad. Receivers accept both. The nonce is 12 random bytes per
 * message; additional authenticated data (AAD) is empty for 0.2.x packets, the label for
 * labelled packets, and the 5-byte `0x0A` + length header (‖ label) for streams.
 *
 * @module
 */

import { DecodeError } from "../core/codec.ts";
import type { Keyring } from "./keyring.ts";

/** memberlist encryption versions: 0 = padded (legacy), 1 = unpadded (current). */
export type EncryptionVersion = 0 | 1;

/** Bytes of the version prefix. */
export const VERSION_SIZE = 1;
/** Bytes of the GCM nonce. */
export const NONCE_SIZE = 12;
/** Bytes of the GCM authentication tag. */
export const TAG_SIZE = 16;
const BLOCK_SIZE = 16;
const EMPTY = new Uint8Array(0);

/**
 * Most bytes encryption adds to a message: 29 for version 1, 45 for version 0 (whose padding
 * is 1..16 bytes). Go subtracts this from its packet budget.
 *
 * @example
 * ```ts
 * import { encryptionOverhead } from "./encryption.ts";
 * encryptionOverhead(1); // 29
 * ```
 */
export function encryptionOverhead(version: EncryptionVersion): number {
  return VERSION_SIZE + NONCE_SIZE + TAG_SIZE + (version === 0 ? BLOCK_SIZE : 0);
}

/** Exact size of the blob that encrypting `plaintextLength` bytes with `version` produces. */
export function encryptedLength(version: EncryptionVersion, plaintextLength: number): number {
  const pad = version === 0 ? BLOCK_SIZE - (plaintextLength % BLOCK_SIZE) : 0;
  return VERSION_SIZE + NONCE_SIZE + plaintextLength + pad + TAG_SIZE;
}

/** Options of {@linkcode encryptPayload}. */
export interface EncryptOptions {
  /** Blob version; default 1. */
  readonly version?: EncryptionVersion;
  /** Additional authenticated data; default none. */
  readonly aad?: Uint8Array;
  /** A fixed 12-byte nonce, for test vectors only. Default: 12 fresh random bytes. */
  readonly nonce?: Uint8Array;
}

type Bytes = Uint8Array<ArrayBuffer>;

/**
 * Encrypt `plaintext` with the keyring's primary key into a memberlist blob.
 *
 * @throws {RangeError} for a nonce that is not 12 bytes or an unknown version.
 *
 * @example
 * ```ts
 * import { Keyring } from "./keyring.ts";
 * import { decryptPayload, encryptPayload } from "./encryption.ts";
 * const ring = new Keyring(new TextEncoder().encode("0123456789abcdef"));
 * const blob = await encryptPayload(ring, new Uint8Array([8, 104, 105]));
 * await decryptPayload(ring, blob); // Uint8Array [8, 104, 105]
 * ```
 */
export async function encryptPayload(
  keyring: Keyring,
  plaintext: Uint8Array,
  options: EncryptOptions = {},
): Promise<Uint8Array> {
  const version = options.version ?? 1;
  if (version !== 0 && version !== 1) throw new RangeError(`unknown encryption version ${version}`);
  const nonce = options.nonce ?? crypto.getRandomValues(new Uint8Array(NONCE_SIZE));
  if (nonce.length !== NONCE_SIZE) throw new RangeError(`a nonce is ${NONCE_SIZE} bytes`);
  let input = plaintext;
  if (version === 0) {
    const pad = BLOCK_SIZE - (plaintext.length % BLOCK_SIZE);
    input = new Uint8Array(plaintext.length + pad);
    input.set(plaintext);
    input.fill(pad, plaintext.length);
  }
  const key = await keyring.primaryCryptoKey();
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt(
      {
        name: "AES-GCM",
        iv: nonce as Bytes,
        additionalData: (options.aad ?? EMPTY) as Bytes,
        tagLength: TAG_SIZE * 8,
      },
      key,
      input as Bytes,
    ),
  );
  const out = new Uint8Array(VERSION_SIZE + NONCE_SIZE + sealed.length);
  out[0] = version;
  out.set(nonce, VERSION_SIZE);
  out.set(sealed, VERSION_SIZE + NONCE_SIZE);
  return out;
}

/**
 * Decrypt a memberlist blob, trying every key of the ring in order (primary first), and
 * strip version-0 padding. `aad` must be what the sender authenticated.
 *
 * @throws {DecodeError} `decrypt-failed` (and nothing else) for an empty or too-short blob,
 * a version above 1, a blob no key authenticates, or invalid version-0 padding.
 *
 * @example
 * ```ts
 * import { Keyring } from "./keyring.ts";
 * import { decryptPayload } from "./encryption.ts";
 * const ring = new Keyring(new Uint8Array(16));
 * await decryptPayload(ring, new Uint8Array(10)).catch((e) => e.kind); // "decrypt-failed"
 * ```
 */
export async function decryptPayload(
  keyring: Keyring,
  blob: Uint8Array,
  aad: Uint8Array = EMPTY,
): Promise<Uint8Array> {
  if (blob.length === 0) throw new DecodeError("decrypt-failed", "cannot decrypt an empty payload");
  const version = blob[0];
  if (version > 1) {
    throw new DecodeError("decrypt-failed", `unsupported encryption version ${version}`);
  }
  const min = encryptedLength(version as EncryptionVersion, 0);
  if (blob.length < min) {
    throw new DecodeError("decrypt-failed", `payload of ${blob.length} bytes is too small`);
  }
  const nonce = blob.subarray(VERSION_SIZE, VERSION_SIZE + NONCE_SIZE) as Bytes;
  const sealed = blob.subarray(VERSION_SIZE + NONCE_SIZE) as Bytes;
  let keys: CryptoKey[];
  try {
    keys = await keyring.cryptoKeys();
  } catch {
    throw new DecodeError("decrypt-failed", "the keyring's keys could not be imported");
  }
  for (const key of keys) {
    let plain: Uint8Array;
    try {
      plain = new Uint8Array(
        await crypto.subtle.decrypt(
          { name: "AES-GCM", iv: nonce, additionalData: aad as Bytes, tagLength: TAG_SIZE * 8 },
          key,
          sealed,
        ),
      );
    } catch {
      continue; // not this key
    }
    return version === 0 ? unpad(plain) : plain;
  }
  throw new DecodeError("decrypt-failed", "no installed key could decrypt the message");
}

/** Remove PKCS#7 padding: the last byte is the pad length (1..16), as Go reads it. */
function unpad(plain: Uint8Array): Uint8Array {
  const pad = plain.length > 0 ? plain[plain.length - 1] : 0;
  if (pad < 1 || pad > BLOCK_SIZE || pad > plain.length) {
    throw new DecodeError("decrypt-failed", `invalid version 0 padding (${pad})`);
  }
  return plain.subarray(0, plain.length - pad);
}
