/**
 * Serf's tags as memberlist node metadata: a magic byte `0xff`, then a msgpack map of string
 * to string in go-msgpack's dialect. Metadata without the magic byte is an old (protocol 2)
 * member's role: it decodes as `{ role: text }`.
 *
 * @module
 */

import { META_MAX_SIZE } from "../core/config.ts";
import { DecodeError } from "../core/codec.ts";
import { Reader, Writer } from "../wire/msgpack.ts";

/** The first byte of serf's tag encoding. */
export const TAG_MAGIC = 0xff;

/** Most tags a decoded map may hold (the 512-byte metadata limit allows ~170). */
const MAX_TAGS = 256;

const textDecoder = new TextDecoder();

/**
 * Encode `tags` as serf's node metadata. Throws `RangeError` when the result exceeds the
 * 512 bytes memberlist allows.
 *
 * @example
 * ```ts
 * import { encodeSerfTags } from "@shoal/swim/serf";
 * const meta = encodeSerfTags({ role: "web" }); // 0xff, then {"role": "web"}
 * console.log(meta[0]); // 255
 * ```
 */
export function encodeSerfTags(tags: Readonly<Record<string, string>>): Uint8Array {
  const w = new Writer(64);
  w.byte(TAG_MAGIC);
  const entries = Object.entries(tags).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
  w.mapHeader(entries.length);
  for (const [k, v] of entries) {
    if (typeof v !== "string") throw new TypeError(`tag ${k} must be a string`);
    w.str(k);
    w.str(v);
  }
  const out = w.finish();
  if (out.length > META_MAX_SIZE) {
    throw new RangeError(`encoded tags take ${out.length} bytes, more than ${META_MAX_SIZE}`);
  }
  return out;
}

/**
 * Decode a member's metadata as serf does: the magic byte and a map, or else (older members,
 * plain memberlist ones) the whole metadata as the `role` tag. Throws {@linkcode DecodeError}
 * for a malformed map.
 *
 * @example
 * ```ts
 * import { decodeSerfTags, encodeSerfTags } from "@shoal/swim/serf";
 * console.log(decodeSerfTags(encodeSerfTags({ dc: "east" }))); // { dc: "east" }
 * console.log(decodeSerfTags(new TextEncoder().encode("web"))); // { role: "web" }
 * ```
 */
export function decodeSerfTags(meta: Uint8Array | null): Record<string, string> {
  const tags: Record<string, string> = Object.create(null);
  if (meta === null || meta.length === 0 || meta[0] !== TAG_MAGIC) {
    tags.role = meta ? textDecoder.decode(meta) : "";
    return { ...tags };
  }
  const r = new Reader(meta, 1);
  const n = r.mapHeader();
  if (n > MAX_TAGS) throw new DecodeError("oversized", `${n} tags`);
  for (let i = 0; i < n; i++) {
    const k = r.str();
    tags[k] = r.str();
  }
  return { ...tags };
}
