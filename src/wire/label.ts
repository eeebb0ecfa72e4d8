/**
 * The label header of memberlist ≥ 0.3 (protocol.md §3.2): `0xF4`, a length byte (1..255) and the
 * label's bytes. On packets it is the outermost layer; on streams only the dialer writes it,
 * once, before the stream message. With encryption the label bytes are also GCM additional
 * data. An empty label means "no header at all"; 0.2.x nodes know no labels.
 *
 * @module
 */

import { DecodeError } from "../core/codec.ts";
import { MessageType } from "../core/messages.ts";

/** Longest label in bytes (memberlist's `LabelMaxSize`). */
export const LABEL_MAX_SIZE = 255;

const EMPTY = new Uint8Array(0);

/**
 * The UTF-8 bytes of `label`, validated (an empty label gives no bytes: no header).
 *
 * @throws {RangeError} for a label longer than 255 bytes.
 *
 * @example
 * ```ts
 * import { encodeLabel } from "./label.ts";
 * encodeLabel("prod").length; // 4
 * ```
 */
export function encodeLabel(label: string | undefined): Uint8Array {
  if (label === undefined || label === "") return EMPTY;
  const bytes = new TextEncoder().encode(label);
  if (bytes.length > LABEL_MAX_SIZE) {
    throw new RangeError(`a label is at most ${LABEL_MAX_SIZE} bytes, got ${bytes.length}`);
  }
  return bytes;
}

/** Bytes the label header adds: 0 without a label, else 2 + its length. */
export function labelOverhead(label: Uint8Array): number {
  return label.length === 0 ? 0 : 2 + label.length;
}

/**
 * `0xF4 len label` followed by `payload` (just `payload` for an empty label).
 *
 * @example
 * ```ts
 * import { addLabelHeader, encodeLabel } from "./label.ts";
 * addLabelHeader(encodeLabel("a"), new Uint8Array([8])); // f4 01 61 08
 * ```
 */
export function addLabelHeader(label: Uint8Array, payload: Uint8Array): Uint8Array {
  if (label.length === 0) return payload;
  const out = new Uint8Array(2 + label.length + payload.length);
  out[0] = MessageType.hasLabel;
  out[1] = label.length;
  out.set(label, 2);
  out.set(payload, 2 + label.length);
  return out;
}

/** A packet split into its label (empty when there was no header) and the rest. */
export interface Labelled {
  /** The label bytes; empty when the packet had no label header. */
  readonly label: Uint8Array;
  /** Everything after the header (a view of the input). */
  readonly rest: Uint8Array;
}

/**
 * Split a packet into its label header (if any) and the rest.
 *
 * @throws {DecodeError} `bad-label` for a header with length 0 or cut short.
 *
 * @example
 * ```ts
 * import { stripLabelHeader } from "./label.ts";
 * stripLabelHeader(new Uint8Array([0xf4, 1, 0x61, 8])).rest; // Uint8Array [8]
 * ```
 */
export function stripLabelHeader(bytes: Uint8Array): Labelled {
  if (bytes.length === 0 || bytes[0] !== MessageType.hasLabel) return { label: EMPTY, rest: bytes };
  if (bytes.length < 2) throw new DecodeError("bad-label", "label header without a length");
  const size = bytes[1];
  if (size === 0) throw new DecodeError("bad-label", "label header cannot be empty when present");
  if (bytes.length < 2 + size) {
    throw new DecodeError("bad-label", `label of ${size} bytes cut short`);
  }
  return { label: bytes.subarray(2, 2 + size), rest: bytes.subarray(2 + size) };
}

/** True if two labels are byte-identical. */
export function sameLabel(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Printable form of a label for error messages. */
export function showLabel(label: Uint8Array): string {
  return label.length === 0 ? "(none)" : JSON.stringify(new TextDecoder().decode(label));
}
