/**
 * Lamport clocks, as serf keeps three of them (members' join/leave intents, user events and
 * queries): a counter that only moves forward, past every time it witnesses.
 *
 * @module
 */

import { MAX_LTIME } from "./_util.ts";

/**
 * A Lamport clock. `time()` is the time the next message is stamped with; `witness(t)` moves
 * the clock past `t` (to `t + 1`) when `t` is not older than it.
 *
 * @example
 * ```ts
 * import { LamportClock } from "@shoal/swim/serf";
 * const clock = new LamportClock();
 * clock.witness(41);
 * console.log(clock.time()); // 42
 * clock.increment(); // 43
 * ```
 */
export class LamportClock {
  #counter: number;

  /** A clock starting at `start` (default 0). */
  constructor(start = 0) {
    this.#counter = start;
  }

  /** The current time. */
  time(): number {
    return this.#counter;
  }

  /** Move one tick forward and return the new time. */
  increment(): number {
    if (this.#counter < MAX_LTIME) this.#counter++;
    return this.#counter;
  }

  /** Seen time `t` from another member: the clock moves to `t + 1` unless already past `t`. */
  witness(t: number): void {
    if (!(t >= this.#counter)) return; // older, or not a number
    this.#counter = Math.min(t, MAX_LTIME - 1) + 1;
  }
}
