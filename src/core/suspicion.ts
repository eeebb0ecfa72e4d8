/**
 * Suspicion timeouts (protocol.md §9; Lifeguard's "LHA-suspicion"). A suspicion starts at its
 * longest timeout and shrinks as independent members confirm it, so a member suspected by a
 * single slow node has time to refute, while a really dead one is declared quickly.
 *
 * @module
 */

/** Bounds of a suspicion for a cluster of `n` members. */
export interface SuspicionBounds {
  /** Shortest timeout (all confirmations received). */
  readonly min: number;
  /** Longest timeout (no confirmation). */
  readonly max: number;
  /** Independent confirmations expected. */
  readonly k: number;
}

/**
 * memberlist's formula: `min = mult · max(1, log10(n)) · interval`, `max = maxMult · min`,
 * `k = mult − 2` (0 when there are too few members to confirm).
 *
 * @example
 * ```ts
 * import { suspicionBounds } from "@shoal/swim";
 * suspicionBounds(100, 4, 6, 1000); // { min: 8000, max: 48000, k: 2 }
 * ```
 */
export function suspicionBounds(
  n: number,
  suspicionMult: number,
  maxTimeoutMult: number,
  probeInterval: number,
): SuspicionBounds {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, n)));
  const min = Math.floor(suspicionMult * Math.trunc(nodeScale * 1000) * probeInterval / 1000);
  let k = suspicionMult - 2;
  if (n - 2 < k) k = 0;
  return { min, max: maxTimeoutMult * min, k };
}

/** One running suspicion of one member. */
export class Suspicion {
  /** Distinguishes this suspicion's timers from any earlier one's. */
  readonly token: number;
  /** Clock time the suspicion started. */
  readonly startedAt: number;
  readonly #bounds: SuspicionBounds;
  readonly #seen = new Set<string>();
  #confirmations = 0;

  /** Start a suspicion raised by `from`. */
  constructor(token: number, startedAt: number, bounds: SuspicionBounds, from: string) {
    this.token = token;
    this.startedAt = startedAt;
    this.#bounds = bounds;
    this.#seen.add(from);
  }

  /** Independent confirmations counted so far. */
  get confirmations(): number {
    return this.#confirmations;
  }

  /**
   * Count `from` as a confirmation. Returns true if it was new and counted (then the
   * rumour should be re-gossiped and the timer moved earlier).
   */
  confirm(from: string): boolean {
    if (this.#confirmations >= this.#bounds.k || this.#seen.has(from)) return false;
    this.#seen.add(from);
    this.#confirmations++;
    return true;
  }

  /** The total timeout given the confirmations so far. */
  timeout(): number {
    const { min, max, k } = this.#bounds;
    if (k < 1) return min;
    const frac = Math.log(this.#confirmations + 1) / Math.log(k + 1);
    return Math.max(min, Math.floor(max - frac * (max - min)));
  }

  /** Milliseconds left at `now` (≤ 0 means expired). */
  remaining(now: number): number {
    return this.timeout() - (now - this.startedAt);
  }
}
