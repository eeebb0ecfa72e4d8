/**
 * The security settings packets and streams share (protocol.md §3.1–3.3, §6.1–6.2): a keyring for
 * AES-GCM, a cluster label, and memberlist's rolling-upgrade switches.
 *
 * @module
 */

import { DecodeError } from "../core/codec.ts";
import type { EncryptionVersion } from "./encryption.ts";
import type { Keyring } from "./keyring.ts";
import { encodeLabel, sameLabel, showLabel } from "./label.ts";

/** Encryption and label settings, as memberlist's `Config` has them. */
export interface SecurityOptions {
  /** Keys for AES-GCM; without a keyring nothing is encrypted or decrypted. */
  readonly keyring?: Keyring;
  /**
   * Cluster label (memberlist ≥ 0.3), at most 255 bytes. Labelled and unlabelled nodes cannot
   * talk; 0.2.x nodes have no labels. Default none.
   */
  readonly label?: string;
  /**
   * Accept unlabelled input although a label is configured (it is then treated as if it
   * carried our label, also for the AAD). Input with a *different* label is still refused.
   * Default false.
   */
  readonly skipInboundLabelCheck?: boolean;
  /**
   * With a keyring: refuse input that is not encrypted (memberlist's `GossipVerifyIncoming`).
   * Set it to false while rolling encryption out: input that fails to decrypt is then used
   * as plaintext. Default true.
   */
  readonly verifyIncoming?: boolean;
  /**
   * With a keyring: encrypt output (memberlist's `GossipVerifyOutgoing`). Set it to false
   * during the first phase of a rollout. Default true.
   */
  readonly verifyOutgoing?: boolean;
  /** Encryption version for output: 1 (default, what Go sends) or 0 (padded, legacy). */
  readonly encryptionVersion?: EncryptionVersion;
}

/** {@linkcode SecurityOptions} validated and with defaults applied. */
export interface ResolvedSecurity {
  /** The keyring, if any. */
  readonly keyring: Keyring | undefined;
  /** The label's bytes (empty: no label). */
  readonly label: Uint8Array;
  /** See {@linkcode SecurityOptions.skipInboundLabelCheck}. */
  readonly skipInboundLabelCheck: boolean;
  /** Decrypt input, refusing what fails (`keyring && verifyIncoming`)... */
  readonly verifyIncoming: boolean;
  /** Encrypt output (`keyring && verifyOutgoing`). */
  readonly encryptOutgoing: boolean;
  /** Version used when encrypting. */
  readonly encryptionVersion: EncryptionVersion;
}

/**
 * Validate {@linkcode SecurityOptions} and apply the defaults.
 *
 * @throws {RangeError} for a label over 255 bytes or an unknown encryption version.
 */
export function resolveSecurity(options: SecurityOptions = {}): ResolvedSecurity {
  const version = options.encryptionVersion ?? 1;
  if (version !== 0 && version !== 1) {
    throw new RangeError(`encryptionVersion must be 0 or 1, got ${version}`);
  }
  const keyring = options.keyring;
  return {
    keyring,
    label: encodeLabel(options.label),
    skipInboundLabelCheck: options.skipInboundLabelCheck === true,
    verifyIncoming: keyring !== undefined && options.verifyIncoming !== false,
    encryptOutgoing: keyring !== undefined && options.verifyOutgoing !== false,
    encryptionVersion: version,
  };
}

/**
 * Check the label an input arrived with against ours and return the label to use as AAD.
 *
 * @throws {DecodeError} `bad-label` when they differ (an unlabelled input to a labelled node
 * is accepted only with `skipInboundLabelCheck`).
 */
export function checkInboundLabel(received: Uint8Array, s: ResolvedSecurity): Uint8Array {
  if (received.length === 0 && s.skipInboundLabelCheck) return s.label;
  if (!sameLabel(received, s.label)) {
    throw new DecodeError(
      "bad-label",
      `label ${showLabel(received)} does not match ours, ${showLabel(s.label)}`,
    );
  }
  return s.label;
}
