/**
 * Injected randomness. The core never calls `Math.random()`: hosts pass an {@linkcode Rng},
 * and the simulator passes a seeded one so that a run can be replayed exactly.
 *
 * @module
 */

/** A source of uniform random numbers in [0, 1). */
export interface Rng {
  /** The next number in [0, 1). */
  next(): number;
}

/**
 * A small, fast, seeded generator (sfc32 over a splitmix32-expanded seed). Same seed, same
 * sequence, on every runtime.
 *
 * @example
 * ```ts
 * import { seededRng } from "@shoal/swim";
 * const rng = seededRng(42);
 * rng.next(); // always the same first value for seed 42
 * ```
 */
export function seededRng(seed: number): Rng {
  let s = seed >>> 0;
  const split = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  return sfc32(split(), split(), split(), split());
}

/**
 * The sfc32 generator from state `a, b, c, d`. The state lives in a typed array: uint32 values
 * held in variables would be boxed (most exceed a small integer) at every draw.
 */
function sfc32(a: number, b: number, c: number, d: number): Rng {
  const s = Uint32Array.of(a, b, c, d);
  const rng = {
    next(): number {
      const a = s[0], b = s[1], c = s[2], d = s[3];
      const t = (((a + b) >>> 0) + d) >>> 0;
      s[3] = d + 1;
      s[0] = b ^ (b >>> 9);
      s[1] = c + (c << 3);
      s[2] = ((c << 21) | (c >>> 11)) + t;
      return t / 4294967296;
    },
  };
  forks.set(rng, () => sfc32(s[0], s[1], s[2], s[3]));
  return rng;
}

/** How to copy each seeded generator at its current state. */
const forks = new WeakMap<Rng, () => Rng>();

/**
 * An independent copy of `rng` at its current state (the same numbers follow from both), for
 * a generator made by {@linkcode seededRng}; `undefined` for any other.
 */
export function forkRng(rng: Rng): Rng | undefined {
  return forks.get(rng)?.();
}

/** A uniform integer in [0, n). */
export function randomInt(rng: Rng, n: number): number {
  return Math.floor(rng.next() * n);
}

/** Shuffle `items` in place (Fisher–Yates) and return it. */
export function shuffle<T>(rng: Rng, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(rng, i + 1);
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}
