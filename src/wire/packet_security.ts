/**
 * The two outermost packet layers (protocol.md §3.1 steps 3–4, §3.2, §3.3): encryption, then the
 * label header outside it. {@linkcode createPacketSecurity} returns a small object the node
 * shell runs every outgoing datagram through after framing (`seal`) and every incoming one
 * through before decoding (`open`).
 *
 * Receiving follows memberlist: strip and check the label; with a keyring decrypt with every
 * key (AAD = the label); when that fails and `verifyIncoming` is off, use the bytes as
 * plaintext (a rolling upgrade), otherwise drop the packet.
 *
 * @module
 */

import { DecodeError } from "../core/codec.ts";
import { decryptPayload, encryptionOverhead, encryptPayload } from "./encryption.ts";
import { addLabelHeader, labelOverhead, stripLabelHeader } from "./label.ts";
import { checkInboundLabel, resolveSecurity, type SecurityOptions } from "./security.ts";

/** Options of {@linkcode createPacketSecurity}: see {@linkcode SecurityOptions}. */
export type PacketSecurityOptions = SecurityOptions;

/** Seals outgoing and opens incoming datagrams. */
export interface PacketSecurity {
  /**
   * False when neither a keyring nor a label is configured: `seal` and `open` then return
   * their input unchanged, and a caller may skip them (and their async hop) altogether.
   */
  readonly active: boolean;
  /**
   * Most bytes `seal` adds (encryption 29, or 45 for version 0, plus 2 + label length): take
   * it off the packet budget, as Go does.
   */
  readonly overhead: number;
  /** Encrypt (if configured) and prefix the label header (if configured). */
  seal(bytes: Uint8Array): Promise<Uint8Array>;
  /**
   * Check and remove the label header and decrypt. Rejects only with {@linkcode DecodeError}:
   * `bad-label` (missing, different or malformed label) or `decrypt-failed`.
   */
  open(bytes: Uint8Array): Promise<Uint8Array>;
}

/**
 * Build the packet security layer.
 *
 * @throws {RangeError} for a label over 255 bytes or an unknown encryption version.
 *
 * @example
 * ```ts
 * import { Keyring } from "./keyring.ts";
 * import { createPacketSecurity } from "./packet_security.ts";
 * const keyring = new Keyring(new TextEncoder().encode("0123456789abcdef"));
 * const sec = createPacketSecurity({ keyring, label: "prod" });
 * const wire = await sec.seal(new Uint8Array([8, 104, 105])); // f4 04 "prod" 01 nonce ...
 * await sec.open(wire); // Uint8Array [8, 104, 105]
 * sec.overhead; // 29 + 6
 * ```
 */
export function createPacketSecurity(options: PacketSecurityOptions = {}): PacketSecurity {
  const s = resolveSecurity(options);
  const keyring = s.keyring;
  const active = keyring !== undefined || s.label.length > 0;
  const overhead = (s.encryptOutgoing ? encryptionOverhead(s.encryptionVersion) : 0) +
    labelOverhead(s.label);
  return {
    active,
    overhead,
    async seal(bytes: Uint8Array): Promise<Uint8Array> {
      let out = bytes;
      if (s.encryptOutgoing) {
        out = await encryptPayload(keyring!, out, { version: s.encryptionVersion, aad: s.label });
      }
      return addLabelHeader(s.label, out);
    },
    async open(bytes: Uint8Array): Promise<Uint8Array> {
      const { label, rest } = stripLabelHeader(bytes);
      const aad = checkInboundLabel(label, s);
      if (keyring === undefined) return rest;
      try {
        return await decryptPayload(keyring, rest, aad);
      } catch (error) {
        if (!s.verifyIncoming) return rest; // plaintext
        throw error instanceof DecodeError
          ? error
          : new DecodeError("decrypt-failed", "unexpected failure while decrypting");
      }
    },
  };
}
