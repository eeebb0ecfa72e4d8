/**
 * Time for the in-memory networks: a {@linkcode Scheduler} runs callbacks after a delay.
 * {@linkcode RealScheduler} uses the runtime's timers; the simulator's `VirtualScheduler`
 * (in `src/sim/scheduler.ts`) runs a virtual clock.
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
