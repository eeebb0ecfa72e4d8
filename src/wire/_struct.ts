/**
 * Go structs as msgpack maps: the one map-reading loop every decoder uses, and the range
 * checks encoders apply before writing a field.
 *
 * @module
 */

import type { Reader } from "./msgpack.ts";

/**
 * Reads the value of one known key into the fields and returns true, or returns false for an
 * unknown key (left unread).
 */
export type FieldReader<F> = (r: Reader, key: string, fields: F) => boolean;

/**
 * Read one msgpack map of a Go struct into `fields`, which start at Go's zero values (`""`,
 * `0`, `false`, `null`), so a missing key keeps its zero. `field` reads each known key;
 * unknown keys are skipped, and a repeated key overwrites the earlier value, as in Go.
 *
 * @example
 * ```ts
 * import { Reader } from "./msgpack.ts";
 * import { readStruct } from "./_struct.ts";
 * const bytes = new Uint8Array([0x81, 0xa4, 0x4e, 0x6f, 0x64, 0x65, 0xa1, 0x61]);
 * const { node } = readStruct(new Reader(bytes), { node: "" }, (r, key, f) => {
 *   if (key !== "Node") return false;
 *   f.node = r.str();
 *   return true;
 * }); // "a"
 * ```
 */
export function readStruct<F>(r: Reader, fields: F, field: FieldReader<F>): F {
  for (let n = r.mapHeader(); n > 0; n--) {
    if (!field(r, r.key(), fields)) r.skip();
  }
  return fields;
}

/**
 * `v` if it is an integer in `0..max`, else a `RangeError` naming `field`: for encoders,
 * where a value that does not fit is the caller's bug.
 */
export function checkUint(v: number, max: number, field: string): number {
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new RangeError(`${field} must be an integer in 0..${max}, got ${v}`);
  }
  return v;
}

/** `bytes` if it is 4 or 16 IP bytes, else a `RangeError` naming `field` (for encoders). */
export function checkIp(bytes: Uint8Array, field: string): Uint8Array {
  if (bytes.length !== 4 && bytes.length !== 16) {
    throw new RangeError(`${field} must be 4 or 16 IP bytes, got ${bytes.length}`);
  }
  return bytes;
}
