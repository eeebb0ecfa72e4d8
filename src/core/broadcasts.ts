/**
 * The transmit-limited broadcast queue (spec §11.1): how rumours spread.
 *
 * Each rumour is encoded once and sent a bounded number of times,
 * `retransmitMult · ceil(log10(n + 1))`. The least-sent rumours go first (largest first within
 * a tier, then newest), and a new rumour about a member replaces any queued one about it.
 * Picking a packet's worth costs O(tiers · log size) plus what is picked, so the per-packet
 * work does not grow with the backlog.
 *
 * @module
 */

/** A queued rumour. */
interface Item {
  readonly key: string;
  readonly bytes: Uint8Array;
  readonly id: number;
  transmits: number;
  readonly settle?: () => void;
}

/** Retransmit limit for a cluster of `n` members. */
export function retransmitLimit(mult: number, n: number): number {
  return mult * Math.ceil(Math.log10(n + 1));
}

/** Orders a tier: larger messages first, then newer. */
function before(a: Item, b: Item): boolean {
  return a.bytes.length !== b.bytes.length ? a.bytes.length > b.bytes.length : a.id > b.id;
}

/** The broadcast queue. */
export class BroadcastQueue {
  readonly #byKey = new Map<string, Item>();
  /** transmits → items ordered by `before`. */
  readonly #tiers = new Map<number, Item[]>();
  #nextId = 0;

  /** Number of queued rumours. */
  get size(): number {
    return this.#byKey.size;
  }

  /**
   * Queue `bytes` under `key` (a member name), replacing any rumour queued under the same key.
   * `settle` runs once the rumour has been sent its full count or was replaced.
   */
  enqueue(key: string, bytes: Uint8Array, settle?: () => void): void {
    const old = this.#byKey.get(key);
    if (old) this.#remove(old);
    const item: Item = { key, bytes, id: this.#nextId++, transmits: 0, settle };
    this.#byKey.set(key, item);
    this.#insert(item);
  }

  /** Drop everything (settling each rumour). */
  clear(): void {
    for (const item of [...this.#byKey.values()]) this.#remove(item);
  }

  /**
   * Take rumours for one packet: at most `maxCount`, whose `length + overhead` add up to at
   * most `limit`. Each taken rumour counts a transmission and leaves the queue once it has
   * been sent `transmitLimit` times.
   */
  take(limit: number, overhead: number, maxCount: number, transmitLimit: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    const taken: Item[] = [];
    let room = limit;
    const levels = [...this.#tiers.keys()].sort((a, b) => a - b);
    for (const level of levels) {
      const tier = this.#tiers.get(level)!;
      while (taken.length < maxCount && room > overhead) {
        const i = firstFitting(tier, room - overhead);
        if (i < 0) break;
        const [item] = tier.splice(i, 1);
        taken.push(item);
        out.push(item.bytes);
        room -= overhead + item.bytes.length;
      }
      if (tier.length === 0) this.#tiers.delete(level);
      if (taken.length >= maxCount || room <= overhead) break;
    }
    for (const item of taken) {
      item.transmits++;
      if (item.transmits >= transmitLimit) {
        this.#byKey.delete(item.key);
        item.settle?.();
      } else {
        this.#insert(item);
      }
    }
    return out;
  }

  #insert(item: Item): void {
    let tier = this.#tiers.get(item.transmits);
    if (!tier) this.#tiers.set(item.transmits, tier = []);
    let lo = 0, hi = tier.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before(tier[mid], item)) lo = mid + 1;
      else hi = mid;
    }
    tier.splice(lo, 0, item);
  }

  #remove(item: Item): void {
    this.#byKey.delete(item.key);
    const tier = this.#tiers.get(item.transmits);
    if (tier) {
      const i = tier.indexOf(item);
      if (i >= 0) tier.splice(i, 1);
      if (tier.length === 0) this.#tiers.delete(item.transmits);
    }
    item.settle?.();
  }
}

/** Index of the first (largest) item no longer than `room`, or -1. Tiers are size-descending. */
function firstFitting(tier: Item[], room: number): number {
  let lo = 0, hi = tier.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (tier[mid].bytes.length > room) lo = mid + 1;
    else hi = mid;
  }
  return lo < tier.length ? lo : -1;
}
