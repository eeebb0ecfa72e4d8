/**
 * The msgpack dialect memberlist speaks (protocol.md §4), hand-written.
 *
 * Encoding follows Go's go-msgpack 0.5.x byte for byte: strings *and* byte slices use the
 * raw/str family (fixstr, str16 `da`, str32 `db`; never str8 `d9`, never bin), nil `c0` for
 * absent byte slices, the smallest *unsigned* integer forms, fixmap/map16 headers and
 * `c2`/`c3` booleans.
 *
 * Decoding is liberal, as Go's decoder is: every str/bin/nil form for strings and bytes,
 * arrays of small integers for bytes, signed and unsigned integers of any width, `0`/`1` as
 * booleans, nil as a zero value, unknown keys skipped. It is also hostile-input safe: every
 * length is checked against the bytes that remain and only {@linkcode DecodeError} is thrown.
 *
 * Error kinds thrown by {@linkcode Reader}: `truncated` (ran out of bytes), `bad-msgpack`
 * (an invalid byte, or a msgpack type that cannot fill the requested field), `bad-field`
 * (a well-typed value outside the field's range, e.g. a negative or too-large integer) and
 * `too-deep` (unknown values nested deeper than {@linkcode MAX_SKIP_DEPTH}).
 *
 * @module
 */

import { DecodeError } from "../core/codec.ts";
import { allocBytes, internString } from "./alloc.ts";

/** Largest uint8. */
export const U8_MAX = 0xff;
/** Largest uint16. */
export const U16_MAX = 0xffff;
/** Largest uint32. */
export const U32_MAX = 0xffff_ffff;
/** How deep {@linkcode Reader.skip} follows nested maps and arrays before giving up. */
export const MAX_SKIP_DEPTH = 32;

const textEncoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF in names instead of silently dropping it.
const textDecoder = new TextDecoder("utf-8", { ignoreBOM: true });

// Known struct keys, interned: Reader.key() returns these constants without allocating.
// Indexed by length; each entry lists [bytes, string] pairs of that length.
const internedKeys: [Uint8Array, string][][] = [];

/**
 * Encode a short ASCII string (a struct key) as a complete raw-string object, and register it
 * so {@linkcode Reader.key} returns the same string constant without allocating. Used to
 * precompute the key bytes written for every message.
 *
 * @example
 * ```ts
 * import { rawKey } from "./msgpack.ts";
 * rawKey("Node"); // Uint8Array [0xa4, 0x4e, 0x6f, 0x64, 0x65]
 * ```
 */
export function rawKey(name: string): Uint8Array {
  const bytes = textEncoder.encode(name);
  if (bytes.length >= 32) throw new RangeError(`key too long for a fixstr: ${name}`);
  const out = new Uint8Array(bytes.length + 1);
  out[0] = 0xa0 | bytes.length;
  out.set(bytes, 1);
  const bucket = internedKeys[bytes.length] ??= [];
  if (!bucket.some(([, s]) => s === name)) bucket.push([bytes, name]);
  return out;
}

function internedKey(buf: Uint8Array, start: number, n: number): string | undefined {
  const bucket = internedKeys[n];
  if (bucket === undefined) return undefined;
  outer: for (let k = 0; k < bucket.length; k++) {
    const [bytes, name] = bucket[k];
    for (let i = 0; i < n; i++) if (buf[start + i] !== bytes[i]) continue outer;
    return name;
  }
  return undefined;
}

/**
 * A growable output buffer that writes memberlist's msgpack dialect. Reuse one instance
 * (call {@linkcode Writer.reset}) to avoid allocating per message.
 *
 * Misuse (a negative or non-integer number, an out-of-range length) throws `RangeError`:
 * that is a programming error, not bad input.
 *
 * @example
 * ```ts
 * import { Writer } from "./msgpack.ts";
 * const w = new Writer();
 * w.mapHeader(1);
 * w.str("SeqNo");
 * w.uint(300);
 * w.finish(); // 81 a5 53 65 71 4e 6f cd 01 2c
 * ```
 */
export class Writer {
  #buf: Uint8Array;
  #pos = 0;

  /** Create a writer with `initialCapacity` bytes preallocated. */
  constructor(initialCapacity = 512) {
    this.#buf = new Uint8Array(Math.max(16, initialCapacity));
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#pos;
  }

  /** Forget everything written; keeps the allocated buffer. */
  reset(): this {
    this.#pos = 0;
    return this;
  }

  /** Make room for `n` more bytes. */
  ensure(n: number): void {
    const need = this.#pos + n;
    if (need <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#pos));
    this.#buf = next;
  }

  /**
   * A copy of the bytes written so far (safe to keep after the writer is reused). Small
   * results share a slab (see `alloc.ts`): keep them briefly, as outgoing messages are.
   */
  finish(): Uint8Array {
    const n = this.#pos;
    const out = allocBytes(n);
    const b = this.#buf;
    if (n <= 64) { for (let i = 0; i < n; i++) out[i] = b[i]; }
    else out.set(b.subarray(0, n), 0);
    return out;
  }

  /** A view of the bytes written so far; invalidated by the next write or reset. */
  view(): Uint8Array {
    return this.#buf.subarray(0, this.#pos);
  }

  /** Write one raw byte (not a msgpack object). */
  byte(b: number): void {
    this.ensure(1);
    this.#buf[this.#pos++] = b;
  }

  /** Write bytes verbatim (not a msgpack object), e.g. a precomputed key. */
  put(bytes: Uint8Array): void {
    const n = bytes.length;
    this.ensure(n);
    if (n <= 16) {
      // A loop beats TypedArray#set's call overhead for keys and IP addresses.
      const b = this.#buf;
      let p = this.#pos;
      for (let i = 0; i < n; i++) b[p++] = bytes[i];
      this.#pos = p;
      return;
    }
    this.#buf.set(bytes, this.#pos);
    this.#pos += n;
  }

  /** Write a big-endian uint16 (framing, not msgpack). */
  u16be(v: number): void {
    this.ensure(2);
    const b = this.#buf;
    b[this.#pos++] = v >>> 8;
    b[this.#pos++] = v;
  }

  /** Write a big-endian uint32 (framing, not msgpack). */
  u32be(v: number): void {
    this.ensure(4);
    const b = this.#buf;
    b[this.#pos++] = v >>> 24;
    b[this.#pos++] = v >>> 16;
    b[this.#pos++] = v >>> 8;
    b[this.#pos++] = v;
  }

  /** Write msgpack nil (`c0`). */
  nil(): void {
    this.byte(0xc0);
  }

  /** Write a msgpack boolean (`c2`/`c3`). */
  bool(v: boolean): void {
    this.byte(v ? 0xc3 : 0xc2);
  }

  /** Write a non-negative integer in its smallest unsigned form. */
  uint(v: number): void {
    if (v < 0x80 && v >= 0 && (v | 0) === v) {
      this.byte(v);
      return;
    }
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`not an unsigned integer: ${v}`);
    this.ensure(9);
    const b = this.#buf;
    let p = this.#pos;
    if (v <= U8_MAX) {
      b[p++] = 0xcc;
      b[p++] = v;
    } else if (v <= U16_MAX) {
      b[p++] = 0xcd;
      b[p++] = v >>> 8;
      b[p++] = v;
    } else if (v <= U32_MAX) {
      b[p++] = 0xce;
      b[p++] = v >>> 24;
      b[p++] = v >>> 16;
      b[p++] = v >>> 8;
      b[p++] = v;
    } else {
      const hi = Math.floor(v / 0x1_0000_0000);
      const lo = v >>> 0;
      b[p++] = 0xcf;
      b[p++] = hi >>> 24;
      b[p++] = hi >>> 16;
      b[p++] = hi >>> 8;
      b[p++] = hi;
      b[p++] = lo >>> 24;
      b[p++] = lo >>> 16;
      b[p++] = lo >>> 8;
      b[p++] = lo;
    }
    this.#pos = p;
  }

  /** Write a map header for `n` pairs (fixmap or map16; map32 above 65535). */
  mapHeader(n: number): void {
    if (n < 16) this.byte(0x80 | n);
    else if (n <= U16_MAX) {
      this.byte(0xde);
      this.u16be(n);
    } else {
      this.byte(0xdf);
      this.u32be(n);
    }
  }

  /** Write a raw-family header for `len` bytes: fixstr, str16 or str32 (never str8). */
  rawHeader(len: number): void {
    if (len < 32) this.byte(0xa0 | len);
    else if (len <= U16_MAX) {
      this.byte(0xda);
      this.u16be(len);
    } else if (len <= U32_MAX) {
      this.byte(0xdb);
      this.u32be(len);
    } else throw new RangeError(`raw too long: ${len}`);
  }

  /** Write a byte slice as a raw string, or nil for `null` (Go's nil slice). */
  bin(bytes: Uint8Array | null): void {
    if (bytes === null) {
      this.byte(0xc0);
      return;
    }
    this.rawHeader(bytes.length);
    this.put(bytes);
  }

  /** Write a string as UTF-8 in the raw family (lone surrogates become U+FFFD). */
  str(s: string): void {
    const n = s.length;
    if (n < 32) {
      // ASCII fast path: names and keys are nearly always short ASCII.
      this.ensure(1 + n);
      const b = this.#buf;
      const start = this.#pos;
      let p = start + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[p++] = c;
      }
      if (i === n) {
        b[start] = 0xa0 | n;
        this.#pos = p;
        return;
      }
    }
    // General path: reserve the header for the worst case (3 bytes per UTF-16 unit), encode,
    // then shift the body if a smaller header suffices.
    const max = n * 3;
    const reserved = max < 32 ? 1 : max <= U16_MAX ? 3 : 5;
    this.ensure(reserved + max);
    const start = this.#pos;
    const { written } = textEncoder.encodeInto(s, this.#buf.subarray(start + reserved));
    const header = written < 32 ? 1 : written <= U16_MAX ? 3 : 5;
    if (header !== reserved) {
      this.#buf.copyWithin(start + header, start + reserved, start + reserved + written);
    }
    this.rawHeader(written);
    this.#pos = start + header + written;
  }
}

/** Decode UTF-8 bytes `[start, end)` of `buf`, with an ASCII fast path for short strings. */
function utf8(buf: Uint8Array, start: number, end: number): string {
  if (end - start <= 24) {
    let s = "";
    for (let i = start; i < end; i++) {
      const c = buf[i];
      if (c >= 0x80) return textDecoder.decode(buf.subarray(start, end));
      s += String.fromCharCode(c);
    }
    return s;
  }
  return textDecoder.decode(buf.subarray(start, end));
}

/**
 * A bounded cursor over untrusted msgpack bytes. Each method decodes one object at
 * {@linkcode Reader.pos} and advances past it; nothing is read at or beyond
 * {@linkcode Reader.end}. Stream code can build a `Reader` at any offset of a buffer, decode
 * one object and read the new offset from `pos`; a `truncated` error means "need more bytes".
 *
 * @example
 * ```ts
 * import { Reader } from "./msgpack.ts";
 * const r = new Reader(new Uint8Array([0x81, 0xa5, 0x53, 0x65, 0x71, 0x4e, 0x6f, 0x07]));
 * const pairs = r.mapHeader(); // 1
 * r.key(); // "SeqNo"
 * r.uint(0xffffffff); // 7
 * r.pos; // 8
 * ```
 */
export class Reader {
  /** The underlying bytes. */
  readonly buf: Uint8Array;
  /** Offset of the next byte to read. */
  pos: number;
  /** Offset one past the last readable byte. */
  readonly end: number;

  /** Read `buf` from `pos` up to (not including) `end`. */
  constructor(buf: Uint8Array, pos = 0, end: number = buf.length) {
    if (pos < 0 || end > buf.length || pos > end) throw new RangeError("reader bounds");
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  /** Bytes left to read. */
  get remaining(): number {
    return this.end - this.pos;
  }

  #need(n: number): void {
    if (n > this.end - this.pos) {
      throw new DecodeError(
        "truncated",
        `need ${n} bytes at offset ${this.pos}, ${this.end - this.pos} remain`,
      );
    }
  }

  /** Read one raw byte (not a msgpack object). */
  byte(): number {
    if (this.pos >= this.end) {
      throw new DecodeError("truncated", `need 1 byte at offset ${this.pos}, 0 remain`);
    }
    return this.buf[this.pos++];
  }

  /** Read a big-endian uint16 (not msgpack). */
  u16be(): number {
    this.#need(2);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 2;
    return (b[p] << 8) | b[p + 1];
  }

  /** Read a big-endian uint32 (not msgpack). */
  u32be(): number {
    return this.#i32() >>> 0;
  }

  #i32(): number {
    this.#need(4);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 4;
    return (b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3];
  }

  /** Take `n` raw bytes as a view (no copy). */
  take(n: number): Uint8Array {
    this.#need(n);
    const p = this.pos;
    this.pos = p + n;
    return this.buf.subarray(p, p + n);
  }

  /** The next byte without consuming it. */
  peek(): number {
    if (this.pos >= this.end) {
      throw new DecodeError("truncated", `need 1 byte at offset ${this.pos}, 0 remain`);
    }
    return this.buf[this.pos];
  }

  /** True (and consumed) if the next object is nil. */
  nil(): boolean {
    if (this.peek() !== 0xc0) return false;
    this.pos++;
    return true;
  }

  /**
   * Read a map header and return its pair count. Nil reads as an empty map (Go decodes nil
   * into a zero struct). Throws `truncated` if the pairs cannot possibly fit.
   */
  mapHeader(): number {
    const b = this.byte();
    let n: number;
    if ((b & 0xf0) === 0x80) n = b & 0x0f;
    else if (b === 0xde) n = this.u16be();
    else if (b === 0xdf) n = this.u32be();
    else if (b === 0xc0) return 0;
    else throw new DecodeError("bad-msgpack", `expected a map, got 0x${hex(b)}`);
    if (n * 2 > this.end - this.pos) {
      throw new DecodeError("truncated", `map of ${n} pairs cannot fit in ${this.remaining} bytes`);
    }
    return n;
  }

  /**
   * Read the length of a str, bin or raw object and leave `pos` at its first byte; `-1` for
   * nil. Any other type throws `bad-msgpack`.
   */
  #rawLength(what: string): number {
    const b = this.byte();
    let n: number;
    if ((b & 0xe0) === 0xa0) n = b & 0x1f;
    else {
      switch (b) {
        case 0xc0:
          return -1;
        case 0xd9:
        case 0xc4:
          n = this.byte();
          break;
        case 0xda:
        case 0xc5:
          n = this.u16be();
          break;
        case 0xdb:
        case 0xc6:
          n = this.u32be();
          break;
        default:
          throw new DecodeError("bad-msgpack", `expected ${what}, got 0x${hex(b)}`);
      }
    }
    this.#need(n);
    return n;
  }

  /** Read a string (any str or bin form; nil reads as ""). Invalid UTF-8 becomes U+FFFD. */
  str(): string {
    const n = this.#rawLength("a string");
    if (n <= 0) return "";
    const p = this.pos;
    this.pos = p + n;
    return internString(this.buf, p, p + n, utf8);
  }

  /**
   * Read a map key: like {@linkcode Reader.str} but nil is not a valid key. Keys registered
   * with {@linkcode rawKey} come back as the same string constant, without allocation.
   */
  key(): string {
    if (this.peek() === 0xc0) throw new DecodeError("bad-msgpack", "nil map key");
    const n = this.#rawLength("a string");
    const p = this.pos;
    this.pos = p + n;
    return internedKey(this.buf, p, n) ?? internString(this.buf, p, p + n, utf8);
  }

  /**
   * Read a byte slice: any str or bin form (returned as a view of the input, no copy), an
   * array of integers 0..255 (copied), or nil (`null`). Copy the result if it must outlive
   * the input buffer.
   */
  bytesView(): Uint8Array | null {
    const b = this.peek();
    if ((b & 0xf0) === 0x90 || b === 0xdc || b === 0xdd) return this.#byteArray();
    const n = this.#rawLength("bytes");
    if (n < 0) return null;
    const p = this.pos;
    this.pos = p + n;
    return this.buf.subarray(p, p + n);
  }

  /** Like {@linkcode Reader.bytesView} but always returns a fresh copy. */
  bytes(): Uint8Array | null {
    const view = this.bytesView();
    return view === null ? null : view.slice();
  }

  #byteArray(): Uint8Array {
    const b = this.byte();
    const n = b === 0xdc ? this.u16be() : b === 0xdd ? this.u32be() : b & 0x0f;
    if (n > this.end - this.pos) {
      throw new DecodeError("truncated", `array of ${n} cannot fit in ${this.remaining} bytes`);
    }
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.uint(U8_MAX);
    return out;
  }

  /**
   * Read a non-negative integer no larger than `max`, from any signed or unsigned form
   * (nil reads as 0). Negative or too-large values throw `bad-field`; floats and other
   * types throw `bad-msgpack`.
   */
  uint(max: number): number {
    const b = this.byte();
    let v: number;
    if (b < 0x80) v = b;
    else if (b >= 0xe0) throw new DecodeError("bad-field", `negative integer ${b - 0x100}`);
    else {
      switch (b) {
        case 0xc0:
          return 0;
        case 0xcc:
          v = this.byte();
          break;
        case 0xcd:
          v = this.u16be();
          break;
        case 0xce:
          v = this.u32be();
          break;
        case 0xcf: {
          const hi = this.u32be();
          const lo = this.u32be();
          v = hi * 0x1_0000_0000 + lo;
          break;
        }
        case 0xd0:
          v = (this.byte() << 24) >> 24;
          break;
        case 0xd1:
          v = (this.u16be() << 16) >> 16;
          break;
        case 0xd2:
          v = this.#i32();
          break;
        case 0xd3: {
          const hi = this.#i32();
          const lo = this.u32be();
          v = hi * 0x1_0000_0000 + lo;
          break;
        }
        default:
          throw new DecodeError("bad-msgpack", `expected an integer, got 0x${hex(b)}`);
      }
    }
    if (v < 0) throw new DecodeError("bad-field", `negative integer ${v}`);
    if (v > max) throw new DecodeError("bad-field", `integer ${v} exceeds ${max}`);
    return v;
  }

  /** Read a boolean: `c2`/`c3`, the integers 0/1, or nil (false). */
  bool(): boolean {
    const b = this.byte();
    switch (b) {
      case 0xc3:
      case 0x01:
        return true;
      case 0xc2:
      case 0x00:
      case 0xc0:
        return false;
      default:
        if (b < 0x80 || b >= 0xe0) throw new DecodeError("bad-field", `integer ${b} as bool`);
        throw new DecodeError("bad-msgpack", `expected a bool, got 0x${hex(b)}`);
    }
  }

  /**
   * Skip one object of any type (used for unknown keys). Nesting deeper than
   * {@linkcode MAX_SKIP_DEPTH} throws `too-deep`; declared lengths are checked against the
   * remaining bytes before anything is skipped.
   */
  skip(depth = 0): void {
    const b = this.byte();
    if (b < 0x80 || b >= 0xe0) return; // fixints
    if (b < 0xa0) {
      // fixmap 0x80-0x8f, fixarray 0x90-0x9f
      const n = b < 0x90 ? (b & 0x0f) * 2 : b & 0x0f;
      this.#skipItems(n, depth);
      return;
    }
    if (b < 0xc0) {
      this.#skipBytes(b & 0x1f);
      return;
    }
    switch (b) {
      case 0xc0:
      case 0xc2:
      case 0xc3:
        return;
      case 0xc4:
      case 0xd9:
        this.#skipBytes(this.byte());
        return;
      case 0xc5:
      case 0xda:
        this.#skipBytes(this.u16be());
        return;
      case 0xc6:
      case 0xdb:
        this.#skipBytes(this.u32be());
        return;
      case 0xc7:
        this.#skipBytes(this.byte() + 1);
        return;
      case 0xc8:
        this.#skipBytes(this.u16be() + 1);
        return;
      case 0xc9:
        this.#skipBytes(this.u32be() + 1);
        return;
      case 0xcc:
      case 0xd0:
        this.#skipBytes(1);
        return;
      case 0xcd:
      case 0xd1:
        this.#skipBytes(2);
        return;
      case 0xca:
      case 0xce:
      case 0xd2:
        this.#skipBytes(4);
        return;
      case 0xcb:
      case 0xcf:
      case 0xd3:
        this.#skipBytes(8);
        return;
      case 0xd4:
        this.#skipBytes(2);
        return;
      case 0xd5:
        this.#skipBytes(3);
        return;
      case 0xd6:
        this.#skipBytes(5);
        return;
      case 0xd7:
        this.#skipBytes(9);
        return;
      case 0xd8:
        this.#skipBytes(17);
        return;
      case 0xdc:
        this.#skipItems(this.u16be(), depth);
        return;
      case 0xdd:
        this.#skipItems(this.u32be(), depth);
        return;
      case 0xde:
        this.#skipItems(this.u16be() * 2, depth);
        return;
      case 0xdf:
        this.#skipItems(this.u32be() * 2, depth);
        return;
      default: // 0xc1, never used
        throw new DecodeError("bad-msgpack", `invalid byte 0x${hex(b)}`);
    }
  }

  #skipBytes(n: number): void {
    this.#need(n);
    this.pos += n;
  }

  #skipItems(n: number, depth: number): void {
    if (n === 0) return;
    if (depth >= MAX_SKIP_DEPTH) {
      throw new DecodeError("too-deep", `msgpack nesting deeper than ${MAX_SKIP_DEPTH}`);
    }
    if (n > this.end - this.pos) {
      throw new DecodeError("truncated", `${n} items cannot fit in ${this.remaining} bytes`);
    }
    for (let i = 0; i < n; i++) this.skip(depth + 1);
  }
}

function hex(b: number): string {
  return b.toString(16).padStart(2, "0");
}
