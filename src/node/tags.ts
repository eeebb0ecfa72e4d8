/**
 * Member tags: key/value metadata encoded the way serf encodes its tags, so serf (and any Go
 * program using `github.com/hashicorp/go-msgpack`) reads them back as a `map[string]string`.
 *
 * Format: one msgpack map whose keys and values are strings, written in memberlist's dialect
 * (fixstr/str16/str32 raw strings, fixmap/map16 headers), keys sorted so the same tags always
 * give the same bytes. An empty tag set is encoded as zero bytes, as serf does when a member
 * has no tags. The whole encoding must fit memberlist's 512-byte metadata limit.
 *
 * @module
 */

import { META_MAX_SIZE } from "../core/config.ts";
import { Reader, Writer } from "../wire/msgpack.ts";

/** Tags as a plain object: every key and value is a string. */
export type Tags = Record<string, string>;

/** Thrown for a `KEY=VALUE` argument or a tag set that cannot be used. */
export class TagError extends Error {
  /** Create a tag error. */
  constructor(message: string) {
    super(message);
    this.name = "TagError";
  }
}

/**
 * Encode tags as serf's metadata: a msgpack map of strings. Throws {@linkcode TagError} if the
 * result would exceed the 512-byte metadata limit.
 *
 * @example
 * ```ts
 * import { encodeTags } from "./tags.ts";
 * encodeTags({ role: "web" }); // 81 a4 72 6f 6c 65 a3 77 65 62
 * encodeTags({}); // empty: no metadata at all
 * ```
 */
export function encodeTags(tags: Tags): Uint8Array {
  const keys = Object.keys(tags).sort();
  if (keys.length === 0) return new Uint8Array(0);
  const w = new Writer(64);
  w.mapHeader(keys.length);
  for (const key of keys) {
    w.str(key);
    w.str(String(tags[key]));
  }
  const bytes = w.finish();
  if (bytes.length > META_MAX_SIZE) {
    throw new TagError(
      `tags take ${bytes.length} bytes encoded, more than the ${META_MAX_SIZE}-byte metadata limit`,
    );
  }
  return bytes;
}

/**
 * Decode metadata written by {@linkcode encodeTags} (or by serf). Returns `undefined` when the
 * bytes are not exactly one msgpack map of strings, so callers can fall back to showing raw
 * bytes. Empty metadata decodes as no tags.
 *
 * @example
 * ```ts
 * import { decodeTags, encodeTags } from "./tags.ts";
 * decodeTags(encodeTags({ dc: "eu-1" })); // { dc: "eu-1" }
 * decodeTags(new TextEncoder().encode("not msgpack")); // undefined
 * ```
 */
export function decodeTags(meta: Uint8Array): Tags | undefined {
  if (meta.length === 0) return {};
  try {
    const r = new Reader(meta);
    const first = r.peek();
    // Only a real map header counts: Reader.mapHeader also reads nil as an empty map.
    if ((first & 0xf0) !== 0x80 && first !== 0xde && first !== 0xdf) return undefined;
    const n = r.mapHeader();
    const tags: Tags = Object.create(null);
    for (let i = 0; i < n; i++) {
      const key = r.key();
      tags[key] = r.str();
    }
    if (r.remaining !== 0) return undefined;
    return { ...tags };
  } catch {
    return undefined;
  }
}

/**
 * Parse `KEY=VALUE` arguments (as given to `--meta`) into tags. The first `=` splits; the value
 * may be empty or contain more `=`. A repeated key keeps the last value.
 *
 * @example
 * ```ts
 * import { parseTagArgs } from "./tags.ts";
 * parseTagArgs(["role=web", "dc=eu-1"]); // { role: "web", dc: "eu-1" }
 * ```
 */
export function parseTagArgs(args: readonly string[]): Tags {
  const tags: Tags = {};
  for (const arg of args) {
    const eq = arg.indexOf("=");
    if (eq <= 0) throw new TagError(`--meta expects KEY=VALUE, got "${arg}"`);
    tags[arg.slice(0, eq)] = arg.slice(eq + 1);
  }
  return tags;
}
