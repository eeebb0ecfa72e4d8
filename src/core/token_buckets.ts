/**
 * Token buckets by key (a sender's address): each refills at `rate` per second up to `burst`.
 * Bounded: past 4,096 keys the oldest are forgotten (a forgotten key starts full again).
 *
 * @module
 */

const MAX_KEYS = 4096;

interface Bucket {
  tokens: number;
  at: number;
}

/** Rate limits per key, on an injected clock (ms). */
export class TokenBuckets {
  readonly #rate: number;
  readonly #burst: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();

  /** `rate` tokens per second, at most `burst` saved up, time from `now`. */
  constructor(rate: number, burst: number, now: () => number) {
    this.#rate = rate;
    this.#burst = burst;
    this.#now = now;
  }

  /** Take one token from `key`'s bucket; false when it is empty. */
  take(key: string): boolean {
    const now = this.#now();
    let b = this.#buckets.get(key);
    if (b === undefined) {
      if (this.#buckets.size >= MAX_KEYS) {
        this.#buckets.delete(this.#buckets.keys().next().value!);
      }
      this.#buckets.set(key, b = { tokens: this.#burst, at: now });
    } else {
      b.tokens = Math.min(this.#burst, b.tokens + ((now - b.at) / 1000) * this.#rate);
      b.at = now;
    }
    if (b.tokens < 1) return false;
    b.tokens--;
    return true;
  }
}
