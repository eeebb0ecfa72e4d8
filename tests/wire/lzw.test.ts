/**
 * LZW (Go compress/lzw, LSB, 8-bit literals): the spec vectors, a plain reference encoder
 * written from the spec's rule table as a differential oracle, round trips past the
 * 4095-code table reset, and the decoder's failure modes.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { lzwCompress, lzwDecompress } from "../../src/wire/mod.ts";
import { assertDecodeError, hex, toHex, utf8 } from "./_helpers.ts";

const T = { timeout: 60_000 };

/**
 * The protocol.md §3.5 rules, written as plainly as possible (a Map for the dictionary).
 * `reset: false` never clears: at 4096 codes the table freezes, which Go's decoder must also
 * accept ("deferred clear"), though Go's encoder never does it.
 */
function referenceCompress(input: Uint8Array, reset = true): Uint8Array {
  const out: number[] = [];
  let acc = 0;
  let nbits = 0;
  const emit = (code: number, width: number) => {
    acc |= code << nbits;
    nbits += width;
    while (nbits >= 8) {
      out.push(acc & 0xff);
      acc >>>= 8;
      nbits -= 8;
    }
  };
  let dict = new Map<number, number>();
  let width = 9;
  let next = 258;
  emit(256, width);
  // Account for the entry the emitted code implies; true if the table was just cleared.
  const assign = (key: number | null): void => {
    if (!reset && next === 4096) return; // frozen
    if (next === 1 << width && width < 12) width++;
    if (reset && next === 4095) {
      emit(256, width);
      width = 9;
      next = 258;
      dict = new Map();
      return;
    }
    if (key !== null) dict.set(key, next);
    next++;
  };
  if (input.length > 0) {
    let code = input[0];
    for (let i = 1; i < input.length; i++) {
      const key = code * 256 + input[i];
      const hit = dict.get(key);
      if (hit !== undefined) {
        code = hit;
        continue;
      }
      emit(code, width);
      code = input[i];
      assign(key);
    }
    emit(code, width);
    assign(null);
  }
  emit(257, width);
  if (nbits > 0) out.push(acc & 0xff);
  return new Uint8Array(out);
}

function pseudoRandom(size: number, seed: number, alphabet = 256): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = (x >>> 0) % alphabet;
  }
  return out;
}

test("lzw: spec vectors", T, () => {
  assert.equal(toHex(lzwCompress(utf8("a".repeat(40)))), "00 c3 08 1c 48 b0 a0 c1 83 08 09 06 04");
  assert.equal(toHex(lzwCompress(new Uint8Array(0))), "00 03 02");
  const alive = hex(`04 86 a4 41 64 64 72 a4 7f 00 00 01 ab 49 6e 63 61 72 6e 61 74 69 6f 6e 01
    a4 4d 65 74 61 c0 a4 4e 6f 64 65 a6 6e 6f 64 65 2d 61 a4 50 6f 72 74 cd 1f 0a a3 56 73 6e a6 01
    05 02 00 00 00`);
  const stream = hex(`00 09 18 22 15 84 0c 19 39 a4 fe 00 00 10 60 55 12 37 63 c2 c8 71 13 86 4e
    9a 37 6e 02 90 6a 52 86 4e 18 60 a4 9c bc 21 53 c6 94 9b 91 65 5a 84 21 05 e5 8d 1c 3a cd 3e 28
    18 65 65 8e 1b 53 01 0a 08 58 08 20 20`);
  assert.equal(toHex(lzwCompress(alive)), toHex(stream));
  assert.deepStrictEqual(lzwDecompress(stream, 62), alive);
  assert.deepStrictEqual(lzwDecompress(hex("00 03 02"), 0), new Uint8Array(0));
});

test("lzw: reference encoder agrees on the spec vectors", T, () => {
  assert.equal(
    toHex(referenceCompress(utf8("a".repeat(40)))),
    "00 c3 08 1c 48 b0 a0 c1 83 08 09 06 04",
  );
  assert.equal(toHex(referenceCompress(new Uint8Array(0))), "00 03 02");
});

test("lzw: byte-identical to the reference encoder on random inputs", T, () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 3000 }),
        fc.uint8Array({ maxLength: 3000, size: "max" }),
        fc.array(fc.constantFrom(0, 1, 2, 97), { maxLength: 20_000, size: "max" })
          .map((a) => new Uint8Array(a)),
      ),
      (input) => {
        const packed = lzwCompress(input);
        assert.deepStrictEqual(packed, referenceCompress(input));
        assert.deepStrictEqual(lzwDecompress(packed, input.length), input);
      },
    ),
    { numRuns: 300 },
  );
});

test("lzw: large inputs (table resets at 4095) round-trip and match the reference", T, () => {
  const cases = [
    pseudoRandom(3_000, 1),
    pseudoRandom(20_000, 2, 16),
    pseudoRandom(200_000, 3),
    pseudoRandom(250_000, 4, 4),
    new Uint8Array(300_000), // long runs: few, very long codes
    utf8("the quick brown fox jumps over the lazy dog ".repeat(6_000)),
  ];
  for (const input of cases) {
    const packed = lzwCompress(input);
    assert.deepStrictEqual(packed, referenceCompress(input), `size ${input.length}`);
    assert.deepStrictEqual(lzwDecompress(packed, input.length), input, `size ${input.length}`);
  }
});

test("lzw: decoder accepts a deferred clear (a 12-bit table that stays full)", T, () => {
  for (const input of [pseudoRandom(200_000, 5), pseudoRandom(100_000, 6, 3)]) {
    const packed = referenceCompress(input, false);
    assert.notDeepStrictEqual(packed, lzwCompress(input));
    assert.deepStrictEqual(lzwDecompress(packed, input.length), input);
  }
});

test("lzw: stream without EOI is rejected", T, () => {
  const input = pseudoRandom(1000, 7, 8);
  const packed = lzwCompress(input);
  // Dropping the final byte always loses (part of) EOI.
  for (let cut = 0; cut < packed.length; cut++) {
    assertDecodeError(() => lzwDecompress(packed.subarray(0, cut), 1 << 20), "bad-compression");
  }
  assertDecodeError(() => lzwDecompress(new Uint8Array(0), 10), "bad-compression");
});

test("lzw: invalid codes are rejected", T, () => {
  // Clear, then code 300 (undefined: nothing assigned yet), 9 bits each, LSB first.
  const bits = (codes: number[]) => {
    const out: number[] = [];
    let acc = 0, n = 0;
    for (const c of codes) {
      acc |= c << n;
      n += 9;
      while (n >= 8) {
        out.push(acc & 0xff);
        acc >>>= 8;
        n -= 8;
      }
    }
    if (n) out.push(acc);
    return new Uint8Array(out);
  };
  assertDecodeError(() => lzwDecompress(bits([256, 300, 257]), 100), "bad-compression");
  assertDecodeError(() => lzwDecompress(bits([256, 258, 257]), 100), "bad-compression");
  assertDecodeError(() => lzwDecompress(bits([256, 65, 259, 257]), 100), "bad-compression");
  // 65, then 258 = the KwK case ("AA") is valid.
  assert.deepStrictEqual(lzwDecompress(bits([256, 65, 258, 257]), 100), utf8("AAA"));
  // Without a leading clear is fine too (Go's reader does not require it).
  assert.deepStrictEqual(lzwDecompress(bits([65, 66, 257]), 100), utf8("AB"));
  // Data after EOI is ignored.
  assert.deepStrictEqual(lzwDecompress(bits([65, 257, 300, 301]), 100), utf8("A"));
});

test("lzw: output is capped at maxOutput (compression bombs)", T, () => {
  const zeros = new Uint8Array(4 << 20);
  const bomb = lzwCompress(zeros);
  assert.ok(bomb.length < 8_000, `bomb is ${bomb.length} bytes`);
  const started = performance.now();
  assertDecodeError(() => lzwDecompress(bomb, 1 << 20), "bad-compression");
  assert.ok(performance.now() - started < 2_000);
  assert.equal(lzwDecompress(bomb, zeros.length).length, zeros.length);
  assertDecodeError(() => lzwDecompress(bomb, zeros.length - 1), "bad-compression");
  assertDecodeError(() => lzwDecompress(lzwCompress(utf8("ab")), 1), "bad-compression");
  assert.deepStrictEqual(lzwDecompress(lzwCompress(utf8("ab")), 2), utf8("ab"));
});
