/**
 * The transmit-limited broadcast queue (protocol.md §11.1): how rumours spread.
 *
 * Each rumour is encoded once and sent a bounded number of times,
 * `retransmitMult · ceil(log10(n + 1))`. The least-sent rumours go first (largest first within
 * a tier, then newest), and a new rumour about a member replaces any queued one about it.
 * Picking a packet's worth costs O(tiers · log size) plus what is picked, so the per-packet
 * work does not grow with the backlog.
 *
 * @module
 */

import type { Packer } from "./codec.ts";

/** A queued rumour. */
interface Item {
  readonly key: string;
  readonly bytes: Uint8Array;
  transmits: number;
  /** False once replaced or finished; dead items are skipped and compacted lazily. */
  live: boolean;
  readonly settle?: () => void;
}

/** Retransmit limit for a cluster of `n` members. */
export function retransmitLimit(mult: number, n: number): number {
  return mult * Math.ceil(Math.log10(n + 1));
}

/**
 * All rumours sent the same number of times, bucketed by encoded size. Within a size the
 * most recently queued goes first; across sizes, the largest that still fits.
 */
class Tier {
  /** Distinct sizes with a bucket, largest first. */
  readonly sizes: number[] = [];
  readonly buckets = new Map<number, Item[]>();
  live = 0;
  dead = 0;

  push(item: Item): void {
    const size = item.bytes.length;
    let bucket = this.buckets.get(size);
    if (!bucket) {
      this.buckets.set(size, bucket = []);
      let lo = 0, hi = this.sizes.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.sizes[mid] > size) lo = mid + 1;
        else hi = mid;
      }
      this.sizes.splice(lo, 0, size);
    }
    bucket.push(item);
    this.live++;
  }

  /** Remove and return the preferred live item no longer than `room`. */
  popFitting(room: number): Item | undefined {
    let lo = 0, hi = this.sizes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.sizes[mid] > room) lo = mid + 1;
      else hi = mid;
    }
    while (lo < this.sizes.length) {
      const size = this.sizes[lo];
      const bucket = this.buckets.get(size)!;
      while (bucket.length > 0) {
        const item = bucket.pop()!;
        if (item.live) {
          this.live--;
          return item;
        }
        this.dead--;
      }
      this.buckets.delete(size);
      this.sizes.splice(lo, 1);
    }
    return undefined;
  }

  /** Forget an item that is already marked dead, compacting when mostly garbage. */
  forget(): void {
    this.live--;
    this.dead++;
    if (this.dead > 64 && this.dead > this.live) {
      for (const [size, bucket] of this.buckets) {
        const kept = bucket.filter((i) => i.live);
        if (kept.length) this.buckets.set(size, kept);
        else {
          this.buckets.delete(size);
          this.sizes.splice(this.sizes.indexOf(size), 1);
        }
      }
      this.dead = 0;
    }
  }
}

/** The broadcast queue. */
export class BroadcastQueue {
  readonly #byKey = new Map<string, Item>();
  /** transmits → tier. */
  readonly #tiers = new Map<number, Tier>();

  #bytes = 0;

  /** Number of queued rumours. */
  get size(): number {
    return this.#byKey.size;
  }

  /** Encoded bytes of the queued rumours. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Queue `bytes` under `key` (a member name), replacing any rumour queued under the same key.
   * `settle` runs once the rumour has been sent its full count or was replaced.
   */
  enqueue(key: string, bytes: Uint8Array, settle?: () => void): void {
    const old = this.#byKey.get(key);
    if (old) this.#drop(old);
    const item: Item = { key, bytes, transmits: 0, live: true, settle };
    this.#byKey.set(key, item);
    this.#bytes += bytes.length;
    this.#tier(0).push(item);
  }

  /** Drop everything (settling each rumour). */
  clear(): void {
    for (const item of [...this.#byKey.values()]) this.#drop(item);
  }

  /**
   * Add rumours to `packer` while they fit, keeping `reserve` bytes free. Each taken rumour
   * counts a transmission and leaves the queue once it has been sent `transmitLimit` times.
   * Cost: O(tiers + picked · log sizes), whatever the backlog.
   */
  take(packer: Packer, reserve: number, transmitLimit: number): void {
    const taken: Item[] = [];
    const levels = [...this.#tiers.keys()].sort((a, b) => a - b);
    for (const level of levels) {
      const tier = this.#tiers.get(level)!;
      let room: number;
      while ((room = packer.room(reserve)) > 0) {
        const item = tier.popFitting(room);
        if (!item) break;
        taken.push(item);
        packer.add(item.bytes);
      }
      if (tier.live === 0) this.#tiers.delete(level);
      if (packer.room(reserve) <= 0) break;
    }
    for (const item of taken) {
      item.transmits++;
      if (item.transmits >= transmitLimit) {
        item.live = false;
        this.#byKey.delete(item.key);
        this.#bytes -= item.bytes.length;
        item.settle?.();
      } else {
        this.#tier(item.transmits).push(item);
      }
    }
  }

  #tier(level: number): Tier {
    let tier = this.#tiers.get(level);
    if (!tier) this.#tiers.set(level, tier = new Tier());
    return tier;
  }

  #drop(item: Item): void {
    item.live = false;
    this.#byKey.delete(item.key);
    this.#bytes -= item.bytes.length;
    const tier = this.#tiers.get(item.transmits);
    if (tier) {
      tier.forget();
      if (tier.live === 0) this.#tiers.delete(item.transmits);
    }
    item.settle?.();
  }
}
