/**
 * The probe ring of a member table: member ids in shuffled order. A ring shuffled from a
 * seeded generator may stay unwritten: it keeps the generator's state before the shuffle and
 * the first {@linkcode WINDOW} positions, and is written out (replaying the same draws) only
 * when read beyond them. A simulation of n members then does not hold n rings of n ids until
 * it needs them. Either way the generator is drawn exactly as by a plain Fisher–Yates.
 *
 * @module
 */

import { forkRng, randomInt, type Rng } from "./rng.ts";

/** Positions kept of an unwritten ring: enough for the first probe periods. */
const WINDOW = 64;

/** Transient reads of an unwritten ring before it is written out for good. */
const TRANSIENT_READS = 8;

/** Scratch for shuffles and transient reads, shared by every ring (grown, never shrunk). */
let scratch = new Int32Array(0);

function scratchOf(n: number): Int32Array {
  if (scratch.length < n) scratch = new Int32Array(Math.max(n, scratch.length * 2));
  return scratch;
}

/** A ring left unwritten: its input, the generator before its shuffle, and what came after. */
interface Unwritten {
  /** The ids shuffled, in input order, `skip` left out. */
  readonly input: Int32Array;
  readonly skip: number;
  readonly length: number;
  /** The generator as it was before the shuffle. */
  readonly before: Rng;
  /** The first positions of the shuffled ring. */
  readonly window: Int32Array;
  /** Insertions since, in order: position, id, position, id… */
  readonly inserts: number[];
  reads: number;
}

/** Member ids in probe order. */
export class ProbeRing {
  #ids = new Int32Array(0);
  #length = 0;
  #unwritten: Unwritten | undefined;

  /** Number of ids. */
  get length(): number {
    return this.#length;
  }

  /** The id at `position` (< length). */
  at(position: number): number {
    const u = this.#unwritten;
    if (!u) return this.#ids[position];
    let p = position;
    for (let i = u.inserts.length - 2; i >= 0; i -= 2) {
      const at = u.inserts[i];
      if (p === at) return u.inserts[i + 1];
      if (p > at) p--;
    }
    if (p < u.window.length) return u.window[p];
    this.#write();
    return this.#ids[position];
  }

  /**
   * Every id in order, for a few reads at random positions: the ring itself, or (unwritten) a
   * transient copy valid until the next call on any ring.
   */
  view(): Int32Array {
    const u = this.#unwritten;
    if (!u) return this.#ids;
    if (++u.reads > TRANSIENT_READS) {
      this.#write();
      return this.#ids;
    }
    const out = scratchOf(this.#length);
    writeOut(u, out);
    return out;
  }

  /** Insert `id` at `position` (≤ length). */
  insert(position: number, id: number): void {
    const u = this.#unwritten;
    if (u && u.inserts.length < 2 * WINDOW) {
      u.inserts.push(position, id);
      this.#length++;
      return;
    }
    if (u) this.#write();
    this.#reserve(this.#length + 1);
    this.#ids.copyWithin(position + 1, position, this.#length);
    this.#ids[position] = id;
    this.#length++;
  }

  /**
   * Append `input` (less `skip`), then shuffle the whole ring with `rng`. An empty ring over a
   * seeded generator stays unwritten; `input` must not change after.
   */
  appendAndShuffle(rng: Rng, input: Int32Array, skip: number): void {
    const before = this.#length === 0 && !this.#unwritten ? forkRng(rng) : undefined;
    let n = 0;
    if (before) {
      const out = scratchOf(input.length);
      n = copyWithout(input, skip, out);
      shuffleInts(rng, out, n);
      this.#unwritten = {
        input,
        skip,
        length: n,
        before,
        window: out.slice(0, Math.min(n, WINDOW)),
        inserts: [],
        reads: 0,
      };
      this.#length = n;
      return;
    }
    if (this.#unwritten) this.#write();
    this.#reserve(this.#length + input.length);
    n = this.#length;
    for (const id of input) if (id !== skip) this.#ids[n++] = id;
    this.#length = n;
    shuffleInts(rng, this.#ids, n);
  }

  /** Keep the ids `keep` accepts (called in ring order), then shuffle with `rng`. */
  filterAndShuffle(rng: Rng, keep: (id: number) => boolean): void {
    if (this.#unwritten) this.#write();
    const ids = this.#ids;
    let kept = 0;
    for (let i = 0; i < this.#length; i++) if (keep(ids[i])) ids[kept++] = ids[i];
    this.#length = kept;
    shuffleInts(rng, ids, kept);
  }

  #write(): void {
    const u = this.#unwritten!;
    this.#unwritten = undefined;
    this.#ids = new Int32Array(this.#length + (this.#length >> 3) + 8);
    writeOut(u, this.#ids);
  }

  #reserve(length: number): void {
    if (length <= this.#ids.length) return;
    const grown = new Int32Array(Math.max(length, this.#ids.length + (this.#ids.length >> 3) + 8));
    grown.set(this.#ids.subarray(0, this.#length));
    this.#ids = grown;
  }
}

/** The whole ring `u` stands for, into `out`: the shuffle replayed, then the insertions. */
function writeOut(u: Unwritten, out: Int32Array): void {
  let n = copyWithout(u.input, u.skip, out);
  shuffleInts(forkRng(u.before)!, out, n);
  for (let i = 0; i < u.inserts.length; i += 2) {
    const at = u.inserts[i];
    out.copyWithin(at + 1, at, n);
    out[at] = u.inserts[i + 1];
    n++;
  }
}

/** `input` less the first `skip` (if any) into `out`; returns the count. */
function copyWithout(input: Int32Array, skip: number, out: Int32Array): number {
  out.set(input);
  const at = input.indexOf(skip);
  if (at < 0) return input.length;
  out.copyWithin(at, at + 1, input.length);
  return input.length - 1;
}

/** Fisher–Yates over the first `n` entries of `items`: the same draws as `shuffle`. */
function shuffleInts(rng: Rng, items: Int32Array, n: number): void {
  for (let i = n - 1; i > 0; i--) {
    const j = randomInt(rng, i + 1);
    const t = items[i];
    items[i] = items[j];
    items[j] = t;
  }
}
