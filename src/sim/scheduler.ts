/**
 * Time for the in-memory network and the simulator: a {@linkcode Scheduler} runs callbacks
 * after a delay. {@linkcode VirtualScheduler} advances a virtual clock as fast as the CPU
 * allows and breaks ties by insertion order, so a run is reproducible;
 * {@linkcode RealScheduler} uses the runtime's timers.
 *
 * @module
 */

/** Runs callbacks after a delay and tells the time. */
export interface Scheduler {
  /** Current time in ms. */
  now(): number;
  /** Run `fn` after `delay` ms. */
  schedule(delay: number, fn: () => void): void;
}

interface Task {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
}

/**
 * A virtual clock with a binary-heap event queue.
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
  readonly #heap: Task[] = [];

  /** Virtual time in ms. */
  now(): number {
    return this.#now;
  }

  /** Queue `fn` at now + delay (negative delays run at now). */
  schedule(delay: number, fn: () => void): void {
    const task = { at: this.#now + Math.max(0, delay), seq: this.#seq++, fn };
    const h = this.#heap;
    h.push(task);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!earlier(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  /** Tasks waiting. */
  get pending(): number {
    return this.#heap.length;
  }

  /** Run every task due up to now + `ms`, then set the clock to that time. */
  runFor(ms: number): void {
    this.runUntil(this.#now + ms);
  }

  /** Run every task due up to `time`, then set the clock to `time`. */
  runUntil(time: number): void {
    const h = this.#heap;
    while (h.length > 0 && h[0].at <= time) {
      const task = this.#pop();
      this.#now = task.at;
      task.fn();
    }
    this.#now = Math.max(this.#now, time);
  }

  #pop(): Task {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && earlier(h[l], h[m])) m = l;
        if (r < h.length && earlier(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

function earlier(a: Task, b: Task): boolean {
  return a.at !== b.at ? a.at < b.at : a.seq < b.seq;
}

/** Wall-clock scheduling with unref'd timers (they never keep the process alive). */
export class RealScheduler implements Scheduler {
  /** `performance.now()`. */
  now(): number {
    return performance.now();
  }

  /** `setTimeout(fn, delay).unref()`. */
  schedule(delay: number, fn: () => void): void {
    const t = setTimeout(fn, Math.max(0, delay)) as unknown as { unref?: () => void };
    t.unref?.();
  }
}
