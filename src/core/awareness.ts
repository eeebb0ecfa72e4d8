/**
 * Local health awareness (Lifeguard's Local Health Multiplier, protocol.md §10).
 *
 * A member that keeps failing to get answers is more likely slow itself than surrounded by
 * failures, so it lowers its own confidence: failed probes and refutations raise a score,
 * successful probes lower it, and timeouts are stretched by `score + 1`. A member also watches
 * its own periodic timers: one that fires later than the probe timeout means it stalled itself.
 *
 * @module
 */

/** The local health score, 0 (healthy) … max − 1. */
export class Awareness {
  readonly #max: number;
  #score = 0;
  #stalledAt = Number.NEGATIVE_INFINITY;

  /** A score bounded by `maxMultiplier − 1` (memberlist's AwarenessMaxMultiplier, 8). */
  constructor(maxMultiplier: number) {
    this.#max = Math.max(1, maxMultiplier);
  }

  /** Current score: 0 is healthy. */
  get score(): number {
    return this.#score;
  }

  /** Add `delta` (negative to improve), clamped to the valid range. */
  apply(delta: number): void {
    this.#score = Math.min(this.#max - 1, Math.max(0, this.#score + delta));
  }

  /**
   * One of our periodic timers, due at `due`, fired at `now`: later than `limit` is a stall of
   * our own (an overloaded or suspended host). Returns the lag.
   */
  noteTimer(due: number, now: number, limit: number): number {
    const lag = now - due;
    if (lag > limit) this.#stalledAt = now;
    return lag;
  }

  /** Did we stall after `t`? */
  stalledAfter(t: number): boolean {
    return this.#stalledAt > t;
  }

  /** `duration × (score + 1)`. */
  scale(duration: number): number {
    return duration * (this.#score + 1);
  }
}
