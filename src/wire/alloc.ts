/**
 * Cheap byte buffers for the hot paths of the codec.
 *
 * Creating an `ArrayBuffer` is expensive on some runtimes: about 1 µs in Deno 2.9 (which keeps
 * no typed array on the V8 heap), against 25 ns in Bun. A packet's worth of encoding makes
 * several, so this module carves small buffers out of shared 16 KB slabs instead (a view on an
 * existing buffer costs about 20 ns everywhere), and interns the small immutable values a
 * decoder hands out again and again (names, IP addresses, protocol versions).
 *
 * - {@linkcode allocBytes}: a zeroed buffer of `n` bytes, from a slab when small. A retained
 *   view keeps its whole slab (16 KB) alive: use it for short-lived output (encoded messages,
 *   datagrams), not for values stored for long.
 * - {@linkcode internBytes} / {@linkcode internString}: the same object for the same bytes,
 *   from a bounded direct-mapped cache. Interned byte arrays are shared: they must never be
 *   written to (decoded messages are read-only).
 *
 * @module
 */

const SLAB_SIZE = 16 * 1024;
/** Larger buffers get their own allocation. */
const MAX_POOLED = 2048;

let slab = new ArrayBuffer(SLAB_SIZE);
let used = 0;

/**
 * A zeroed `Uint8Array` of `n` bytes; small ones are views into a shared slab.
 *
 * @example
 * ```ts
 * import { allocBytes } from "./alloc.ts";
 * allocBytes(3); // Uint8Array [0, 0, 0]
 * ```
 */
export function allocBytes(n: number): Uint8Array {
  if (n > MAX_POOLED) return new Uint8Array(n);
  if (used + n > SLAB_SIZE) {
    slab = new ArrayBuffer(SLAB_SIZE);
    used = 0;
  }
  const out = new Uint8Array(slab, used, n);
  used = (used + n + 7) & ~7;
  return out;
}

/** A copy of `src[start, end)` made with {@linkcode allocBytes}. */
export function copyBytes(src: Uint8Array, start = 0, end: number = src.length): Uint8Array {
  const n = end - start;
  const out = allocBytes(n);
  if (n <= 32) { for (let i = 0; i < n; i++) out[i] = src[start + i]; }
  else out.set(src.subarray(start, end), 0);
  return out;
}

// Direct-mapped caches: slot = hash(bytes) mod size; a colliding value replaces the old one.
const SLOTS = 1 << 14;
const MASK = SLOTS - 1;
/** Longest value interned. */
export const MAX_INTERNED = 32;

function hash(buf: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5 ^ (end - start);
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i], 0x01000193);
  return (h ^ (h >>> 15)) & MASK;
}

const byteSlots: (Uint8Array | undefined)[] = new Array(SLOTS).fill(undefined);

/**
 * A read-only copy of `buf[start, end)`: the same array for the same bytes while it stays in
 * the cache (values up to {@linkcode MAX_INTERNED} bytes; longer ones are copied).
 *
 * @example
 * ```ts
 * import { internBytes } from "./alloc.ts";
 * const a = internBytes(new Uint8Array([10, 0, 0, 1]));
 * a === internBytes(new Uint8Array([10, 0, 0, 1])); // true
 * ```
 */
export function internBytes(buf: Uint8Array, start = 0, end: number = buf.length): Uint8Array {
  const n = end - start;
  if (n > MAX_INTERNED) return buf.slice(start, end);
  const slot = hash(buf, start, end);
  const hit = byteSlots[slot];
  if (hit !== undefined && hit.length === n) {
    let i = 0;
    while (i < n && hit[i] === buf[start + i]) i++;
    if (i === n) return hit;
  }
  const copy = buf.slice(start, end);
  byteSlots[slot] = copy;
  return copy;
}

const stringKeys = new Uint8Array(SLOTS * MAX_INTERNED);
const stringLengths = new Int8Array(SLOTS).fill(-1);
const strings: string[] = new Array(SLOTS).fill("");

/**
 * The string `decode(buf[start, end))`, the same string object for the same bytes while it
 * stays in the cache (up to {@linkcode MAX_INTERNED} bytes; longer ones are decoded each
 * time). Interned names hash once and compare by reference in the maps they key.
 */
export function internString(
  buf: Uint8Array,
  start: number,
  end: number,
  decode: (buf: Uint8Array, start: number, end: number) => string,
): string {
  const n = end - start;
  if (n > MAX_INTERNED) return decode(buf, start, end);
  const slot = hash(buf, start, end);
  const base = slot * MAX_INTERNED;
  if (stringLengths[slot] === n) {
    let i = 0;
    while (i < n && stringKeys[base + i] === buf[start + i]) i++;
    if (i === n) return strings[slot];
  }
  const s = decode(buf, start, end);
  for (let i = 0; i < n; i++) stringKeys[base + i] = buf[start + i];
  stringLengths[slot] = n;
  strings[slot] = s;
  return s;
}
