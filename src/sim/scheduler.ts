/**
 * Virtual time for the simulator: {@linkcode VirtualScheduler} is a `Scheduler` (from
 * `src/transport/scheduler.ts`) that advances a virtual clock as fast as the CPU allows and
 * breaks ties by insertion order, so a run is reproducible.
 *
 * @module
 */

import type { Scheduler } from "../transport/scheduler.ts";

/**
 * A virtual clock with a binary-heap event queue.
 *
 * The heap orders tasks by (time, insertion order) and keeps its keys in typed arrays, so
 * that sifting compares numbers in contiguous memory rather than chasing task objects (at
 * 10,000 simulated members the queue holds tens of thousands of tasks).
 *
 * @example
 * ```ts
 * import { VirtualScheduler } from "@shoal/swim/sim";
 * const s = new VirtualScheduler();
 * s.schedule(1000, () => console.log("at", s.now()));
 * s.runFor(2000); // prints "at 1000"
 * ```
 */
export class VirtualScheduler implements Scheduler {
  #now = 0;
  #seq = 0;
  #size = 0;
  #at = new Float64Array(1024);
  #order = new Float64Array(1024);
  #fns: (() => void)[] = [];

  /** Virtual time in ms. */
  now(): number {
    return this.#now;
  }

  /** Queue `fn` at now + delay (negative delays run at now). */
  schedule(delay: number, fn: () => void): void {
    const at = this.#now + Math.max(0, delay);
    const seq = this.#seq++;
    if (this.#size === this.#at.length) this.#grow();
    const times = this.#at, order = this.#order, fns = this.#fns;
    // Sift up, moving parents down into the hole.
    let i = this.#size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pa = times[p];
      if (pa < at || (pa === at && order[p] < seq)) break;
      times[i] = pa;
      order[i] = order[p];
      fns[i] = fns[p];
      i = p;
    }
    times[i] = at;
    order[i] = seq;
    fns[i] = fn;
  }

  /** Tasks waiting. */
  get pending(): number {
    return this.#size;
  }

  /** Run every task due up to now + `ms`, then set the clock to that time. */
  runFor(ms: number): void {
    this.runUntil(this.#now + ms);
  }

  /** Run every task due up to `time`, then set the clock to `time`. */
  runUntil(time: number): void {
    while (this.#size > 0 && this.#at[0] <= time) {
      this.#now = this.#at[0];
      this.#pop()();
    }
    this.#now = Math.max(this.#now, time);
  }

  /** Remove the earliest task and return its function. */
  #pop(): () => void {
    const times = this.#at, order = this.#order, fns = this.#fns;
    const top = fns[0];
    const n = --this.#size;
    const at = times[n], seq = order[n], fn = fns[n];
    fns[n] = undefined as unknown as () => void;
    if (n > 0) {
      // Sift the last task down from the root.
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        let c = l;
        if (r < n && (times[r] < times[l] || (times[r] === times[l] && order[r] < order[l]))) c = r;
        const ca = times[c];
        if (at < ca || (at === ca && seq < order[c])) break;
        times[i] = ca;
        order[i] = order[c];
        fns[i] = fns[c];
        i = c;
      }
      times[i] = at;
      order[i] = seq;
      fns[i] = fn;
    }
    return top;
  }

  #grow(): void {
    const at = new Float64Array(this.#at.length * 2);
    at.set(this.#at);
    const order = new Float64Array(this.#order.length * 2);
    order.set(this.#order);
    this.#at = at;
    this.#order = order;
  }
}
