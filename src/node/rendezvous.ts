/**
 * Membership-based routing: which member owns a key, by rendezvous (highest-random-weight)
 * hashing. Every member that knows the same members picks the same owner, with no
 * coordination; when a member joins or leaves, only the keys it gains or loses move (about
 * 1/n of them), and no key moves between two members that stayed.
 *
 * The score of a key on a member is synchronous and reproducible in any language:
 *
 * ```
 * fnv(s)          = FNV-1a, 32 bits, over the UTF-8 bytes of s (offset 0x811c9dc5, prime 0x01000193)
 * mix(x)          = x ^= x >>> 16; x *= 0x7feb352d; x ^= x >>> 15; x *= 0x846ca68b; x ^= x >>> 16
 *                   (Chris Wellons' "lowbias32", all arithmetic mod 2^32)
 * score(key, m)   = mix(fnv(key) ^ mix(fnv(m.name)))
 * owner(key)      = the eligible member with the highest score; on a tie, the smaller name
 * ```
 *
 * Eligible members are, by default, those `alive`, optionally narrowed to those carrying
 * some tags. Tags are read from a member's metadata in serf's format (one msgpack map of
 * strings, as `shoal agent --meta KEY=VALUE` writes it).
 *
 * @module
 */

import type { Member, MemberState } from "../core/member.ts";
import { decodeTags } from "./tags.ts";

/** What rendezvous hashing needs of a member: its name, state and metadata. */
export type RendezvousMember = Pick<Member, "name" | "state" | "meta">;

/** Which members may own keys. */
export interface OwnerOptions<T extends RendezvousMember = RendezvousMember> {
  /**
   * Tags an owner must carry: `"role=edge"` (that value), `"role"` (any value), or an object
   * such as `{ role: "edge", dc: "eu-1" }` (every entry). Tags are decoded from the member's
   * metadata as serf's msgpack map of strings; a member whose metadata is not one is never
   * eligible when a tag is asked for.
   */
  readonly tag?: string | Readonly<Record<string, string>>;
  /** The states that may own keys. Default: `["alive"]`. */
  readonly states?: readonly MemberState[];
  /** Any further condition on a member. */
  readonly where?: (member: T) => boolean;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a (32 bits) over the UTF-8 encoding of `s`, lone surrogates as U+FFFD. */
function fnv1a(s: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      h = Math.imul(h ^ c, FNV_PRIME);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
      } else c = 0xfffd;
    }
    if (c < 0x800) {
      h = Math.imul(h ^ (0xc0 | (c >> 6)), FNV_PRIME);
    } else {
      if (c < 0x10000) h = Math.imul(h ^ (0xe0 | (c >> 12)), FNV_PRIME);
      else {
        h = Math.imul(h ^ (0xf0 | (c >> 18)), FNV_PRIME);
        h = Math.imul(h ^ (0x80 | ((c >> 12) & 0x3f)), FNV_PRIME);
      }
      h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), FNV_PRIME);
    }
    h = Math.imul(h ^ (0x80 | (c & 0x3f)), FNV_PRIME);
  }
  return h >>> 0;
}

/** lowbias32: a 32-bit integer finalizer with strong avalanche. */
function mix(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Names hashed recently: member names repeat on every lookup. Bounded. */
const nameHashes = new Map<string, number>();
const NAME_CACHE_MAX = 4096;

function nameHash(name: string): number {
  let h = nameHashes.get(name);
  if (h === undefined) {
    h = mix(fnv1a(name));
    if (nameHashes.size >= NAME_CACHE_MAX) nameHashes.clear();
    nameHashes.set(name, h);
  }
  return h;
}

/**
 * The rendezvous score of `key` on the member named `name`: an unsigned 32-bit integer. The
 * member with the highest score owns the key. Pure and synchronous; see the module
 * documentation for the exact function.
 *
 * @example
 * ```ts
 * import { rendezvousScore } from "@shoal/swim";
 * const s = rendezvousScore("user:42", "edge-1"); // the same number on every machine
 * console.log(s >= 0 && s < 2 ** 32); // true
 * ```
 */
export function rendezvousScore(key: string, name: string): number {
  return mix(fnv1a(key) ^ nameHash(name));
}

/**
 * The tags in a member's metadata, in serf's format (one msgpack map of strings, as written
 * by `shoal agent --meta KEY=VALUE`); `undefined` when the metadata is something else. Empty
 * metadata has no tags.
 *
 * @example
 * ```ts
 * import { memberTags } from "@shoal/swim";
 * // 0x81 = a map of one entry; 0xa4 "role"; 0xa4 "edge"
 * const meta = new Uint8Array([0x81, 0xa4, 0x72, 0x6f, 0x6c, 0x65, 0xa4, 0x65, 0x64, 0x67, 0x65]);
 * memberTags(meta); // { role: "edge" }
 * memberTags(new TextEncoder().encode("web")); // undefined
 * ```
 */
export function memberTags(meta: Uint8Array): Record<string, string> | undefined {
  return decodeTags(meta);
}

/** Decoded tags by member name, reused while the metadata bytes stay the same. Bounded. */
const tagCache = new Map<string, { meta: Uint8Array; tags: Record<string, string> | undefined }>();

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function cachedTags(name: string, meta: Uint8Array): Record<string, string> | undefined {
  const hit = tagCache.get(name);
  if (hit && (hit.meta === meta || sameBytes(hit.meta, meta))) return hit.tags;
  const tags = memberTags(meta);
  if (tagCache.size >= NAME_CACHE_MAX) tagCache.clear();
  // Copies: a caller may reuse or change its buffer, and tags are handed out read-only.
  tagCache.set(name, { meta: meta.slice(), tags: tags && Object.freeze(tags) });
  return tags;
}

/** A predicate for `options`: which members may own keys. */
function eligibility<T extends RendezvousMember>(
  options: OwnerOptions<T>,
): (member: T) => boolean {
  const states = options.states ?? ["alive"];
  const where = options.where;
  let wanted: [string, string | undefined][] = [];
  const tag = options.tag;
  if (typeof tag === "string") {
    const eq = tag.indexOf("=");
    wanted = [eq < 0 ? [tag, undefined] : [tag.slice(0, eq), tag.slice(eq + 1)]];
  } else if (tag) wanted = Object.entries(tag);
  return (m) => {
    if (!states.includes(m.state)) return false;
    if (wanted.length) {
      const tags = cachedTags(m.name, m.meta);
      if (!tags) return false;
      for (const [k, v] of wanted) {
        if (!Object.hasOwn(tags, k) || (v !== undefined && tags[k] !== v)) return false;
      }
    }
    return where ? where(m) : true;
  };
}

/**
 * The member that owns `key` among `members` (e.g. `node.members()`): the eligible one with
 * the highest {@linkcode rendezvousScore}, or `undefined` when none is eligible. Every node
 * with the same view of the members picks the same owner.
 *
 * @example
 * ```ts
 * import { createNode, ownerOf } from "@shoal/swim";
 * await using node = await createNode({ name: "a", bind: "127.0.0.1:0" });
 * const owner = ownerOf("user:42", node.members(), { tag: "role=edge" });
 * console.log(owner?.name ?? "no edge member"); // "no edge member": "a" has no tags
 * ownerOf("user:42", node.members())?.name; // "a": alone, it owns every key
 * ```
 */
export function ownerOf<T extends RendezvousMember>(
  key: string,
  members: Iterable<T>,
  options: OwnerOptions<T> = {},
): T | undefined {
  const eligible = eligibility(options);
  const kh = fnv1a(key);
  let best: T | undefined;
  let bestScore = -1;
  for (const m of members) {
    if (!eligible(m)) continue;
    const s = mix(kh ^ nameHash(m.name));
    if (s > bestScore || (s === bestScore && best !== undefined && m.name < best.name)) {
      best = m;
      bestScore = s;
    }
  }
  return best;
}

/**
 * Every eligible member ranked for `key`, owner first: the order in which to fall back when
 * the owner cannot be reached (the second is where the key moves if the owner goes), or the
 * first `r` of them as the key's replicas.
 *
 * @example
 * ```ts
 * import { createNode, rankOwners } from "@shoal/swim";
 * await using node = await createNode({ name: "a", bind: "127.0.0.1:0" });
 * const [owner, fallback] = rankOwners("user:42", node.members());
 * console.log(owner.name, fallback); // "a" undefined
 * ```
 */
export function rankOwners<T extends RendezvousMember>(
  key: string,
  members: Iterable<T>,
  options: OwnerOptions<T> = {},
): T[] {
  const eligible = eligibility(options);
  const kh = fnv1a(key);
  const scored: { m: T; s: number }[] = [];
  for (const m of members) if (eligible(m)) scored.push({ m, s: mix(kh ^ nameHash(m.name)) });
  scored.sort((a, b) => b.s - a.s || (a.m.name < b.m.name ? -1 : a.m.name > b.m.name ? 1 : 0));
  return scored.map((x) => x.m);
}
