/**
 * LZW as Go's `compress/lzw` does it with `LSB` bit order and 8-bit literals — the GIF
 * flavour memberlist uses for its `compress` message (protocol.md §3.5).
 *
 * Codes: literals 0–255, Clear 256, End-of-information (EOI) 257, dictionary codes from 258.
 * Codes start 9 bits wide and grow to 12; they are packed least-significant bit first.
 * {@linkcode lzwCompress} reproduces Go's output byte for byte; {@linkcode lzwDecompress}
 * accepts what Go's reader accepts (EOI required) and never writes more than its limit.
 *
 * @module
 */

import { DecodeError } from "../core/codec.ts";
import { copyBytes } from "./alloc.ts";

const CLEAR = 256;
const EOI = 257;
const FIRST_CODE = 258;
const MAX_WIDTH = 12;
/** The encoder clears its dictionary instead of assigning this code. */
const ENCODER_LIMIT = (1 << MAX_WIDTH) - 1; // 4095

// Encoder dictionary: open-addressed hash from (prefix code << 8 | byte) to code. An entry
// packs key << 12 | code and counts only when its stamp is the current one, so clearing the
// dictionary is one increment instead of a 64 KB fill. 4 slots per code keeps probe chains
// short.
const HASH_BITS = 14;
const HASH_SIZE = 1 << HASH_BITS;
const HASH_MASK = HASH_SIZE - 1;
const hashTable = new Uint32Array(HASH_SIZE);
const hashStamp = new Uint32Array(HASH_SIZE);
let stamp = 0;

/** Forget every dictionary entry. */
function clearDictionary(): void {
  stamp = (stamp + 1) >>> 0;
  if (stamp === 0) {
    hashStamp.fill(0);
    stamp = 1;
  }
}

/** Growable byte sink with an LSB-first bit accumulator, writing into a reused scratch. */
class BitSink {
  out: Uint8Array;
  pos = 0;
  acc = 0;
  bits = 0;
  constructor(capacity: number) {
    if (scratch.length < capacity) scratch = new Uint8Array(capacity);
    this.out = scratch;
  }
  /** Append `code` as `width` bits. */
  write(code: number, width: number): void {
    if (this.pos + 4 > this.out.length) this.#grow();
    let acc = this.acc | (code << this.bits);
    let bits = this.bits + width;
    while (bits >= 8) {
      this.out[this.pos++] = acc & 0xff;
      acc >>>= 8;
      bits -= 8;
    }
    this.acc = acc;
    this.bits = bits;
  }
  /** Flush the final partial byte and return a copy of the output. */
  finish(): Uint8Array {
    if (this.bits > 0) {
      if (this.pos + 1 > this.out.length) this.#grow();
      this.out[this.pos++] = this.acc & 0xff;
      this.acc = 0;
      this.bits = 0;
    }
    return copyBytes(this.out, 0, this.pos);
  }
  #grow(): void {
    const next = new Uint8Array(this.out.length * 2 + 8);
    next.set(this.out.subarray(0, this.pos));
    this.out = scratch = next;
  }
}

/** The encoder's output scratch (compression is synchronous, so one is enough). */
let scratch = new Uint8Array(2048);

/**
 * Compress `input` exactly as Go's `lzw.NewWriter(w, lzw.LSB, 8)` followed by one `Write`
 * and `Close` does: a Clear code first, a dictionary reset (Clear) whenever code 4095 would
 * be assigned, then the pending code and EOI, then a final partial byte.
 *
 * @example
 * ```ts
 * import { lzwCompress } from "./lzw.ts";
 * lzwCompress(new Uint8Array(0)); // Uint8Array [0x00, 0x03, 0x02] (Clear, EOI)
 * ```
 */
export function lzwCompress(input: Uint8Array): Uint8Array {
  const n = input.length;
  const sink = new BitSink(n + 16);
  const table = hashTable, stamps = hashStamp;
  let width = 9;
  let next = FIRST_CODE; // the code the next new string will get
  clearDictionary();
  let cur = stamp;
  sink.write(CLEAR, width);
  if (n === 0) {
    sink.write(EOI, width);
    return sink.finish();
  }
  let code = input[0];
  for (let i = 1; i < n; i++) {
    const lit = input[i];
    const key = (code << 8) | lit;
    let h = ((key >>> 10) ^ (key * 0x9e5)) & HASH_MASK;
    let hit = -1;
    for (; stamps[h] === cur; h = (h + 1) & HASH_MASK) {
      const e = table[h];
      if (e >>> 12 === key) {
        hit = e & 0xfff;
        break;
      }
    }
    if (hit >= 0) {
      code = hit;
      continue;
    }
    sink.write(code, width);
    code = lit;
    // `next` is assigned to the string just emitted + lit; widen once it needs more bits.
    if (next === 1 << width) width++;
    if (next === ENCODER_LIMIT) {
      sink.write(CLEAR, width);
      width = 9;
      next = FIRST_CODE;
      clearDictionary();
      cur = stamp;
      continue;
    }
    table[h] = (key << 12) | next;
    stamps[h] = cur;
    next++;
  }
  sink.write(code, width);
  // Go counts the final code as assigning one more entry before it writes EOI.
  if (next === 1 << width) width++;
  if (next === ENCODER_LIMIT) {
    sink.write(CLEAR, width);
    width = 9;
  }
  sink.write(EOI, width);
  return sink.finish();
}

// Decoder output scratch, kept while it stays small; the result is a copy.
const MAX_SCRATCH = 64 * 1024;
let decodeScratch = new Uint8Array(4096);

// Decoder dictionary scratch (decoding is synchronous, so one set is enough).
const prefixOf = new Uint16Array(1 << MAX_WIDTH);
const suffixOf = new Uint8Array(1 << MAX_WIDTH);
const lengthOf = new Uint16Array(1 << MAX_WIDTH);

/**
 * Decompress a Go `compress/lzw` (LSB, 8-bit) stream. The stream must end with EOI (bytes
 * after it are ignored). Throws {@linkcode DecodeError} `bad-compression` for a missing EOI,
 * an invalid code, or output that would exceed `maxOutput` bytes; memory use is bounded by
 * `maxOutput`.
 *
 * @example
 * ```ts
 * import { lzwCompress, lzwDecompress } from "./lzw.ts";
 * const packed = lzwCompress(new TextEncoder().encode("a".repeat(40)));
 * lzwDecompress(packed, 1024).length; // 40
 * ```
 */
export function lzwDecompress(input: Uint8Array, maxOutput: number): Uint8Array {
  const n = input.length;
  const prefix = prefixOf;
  const suffix = suffixOf;
  const length = lengthOf;
  let out = decodeScratch;
  let o = 0;
  let width = 9;
  let mask = (1 << width) - 1;
  let hi = EOI; // the entry the next code defines (once `last` is valid)
  let last = -1;
  let acc = 0;
  let bits = 0;
  let ip = 0;

  const room = (len: number): void => {
    const need = o + len;
    if (need > maxOutput) {
      throw new DecodeError("bad-compression", `LZW output exceeds ${maxOutput} bytes`);
    }
    if (need > out.length) {
      const grown = new Uint8Array(Math.min(maxOutput, Math.max(need, out.length * 2)));
      grown.set(out.subarray(0, o));
      out = grown;
      if (grown.length <= MAX_SCRATCH) decodeScratch = grown;
    }
  };

  for (;;) {
    while (bits < width) {
      if (ip >= n) throw new DecodeError("bad-compression", "LZW stream ends without EOI");
      acc |= input[ip++] << bits;
      bits += 8;
    }
    const code = acc & mask;
    acc >>>= width;
    bits -= width;

    if (code < CLEAR) {
      room(1);
      out[o++] = code;
      if (last >= 0) {
        prefix[hi] = last;
        suffix[hi] = code;
        length[hi] = (last < CLEAR ? 1 : length[last]) + 1;
      }
    } else if (code === CLEAR) {
      width = 9;
      mask = (1 << width) - 1;
      hi = EOI;
      last = -1;
      continue;
    } else if (code === EOI) {
      return copyBytes(out, 0, o);
    } else if (code <= hi) {
      let c: number;
      let len: number;
      let end: number;
      if (code === hi && last >= 0) {
        // Not yet defined: the last string plus its own first byte.
        len = (last < CLEAR ? 1 : length[last]) + 1;
        room(len);
        end = o + len - 2;
        c = last;
      } else {
        len = length[code];
        room(len);
        end = o + len - 1;
        c = code;
      }
      while (c > EOI) {
        out[end--] = suffix[c];
        c = prefix[c];
      }
      out[end] = c; // the first byte of the expansion
      if (code === hi && last >= 0) out[o + len - 1] = c;
      o += len;
      if (last >= 0) {
        prefix[hi] = last;
        suffix[hi] = c;
        length[hi] = (last < CLEAR ? 1 : length[last]) + 1;
      }
    } else {
      throw new DecodeError("bad-compression", `invalid LZW code ${code} (next is ${hi})`);
    }

    last = code;
    hi++;
    if (hi >= 1 << width) {
      if (width === MAX_WIDTH) {
        // Table full: stop adding entries until the sender clears ("deferred clear").
        last = -1;
        hi--;
      } else {
        width++;
        mask = (1 << width) - 1;
      }
    }
  }
}
