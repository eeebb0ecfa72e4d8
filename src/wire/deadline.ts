/**
 * A deadline for stream I/O: an optional `AbortSignal` and/or a timeout, raced against each
 * read or write. When it passes, the connection is closed (which also ends any pending read)
 * and the operation rejects with {@linkcode StreamError} `timeout`.
 *
 * @module
 */

import { StreamError } from "./conn.ts";

/** When stream I/O must give up. */
export interface DeadlineOptions {
  /** Abort the exchange from outside (e.g. the node shuts down, or a virtual-time deadline). */
  readonly signal?: AbortSignal;
  /** Give up this many ms after the operation starts (an unref'd timer). */
  readonly timeoutMs?: number;
}

/**
 * One deadline shared by the steps of an exchange. Call {@linkcode Deadline.dispose} when done
 * (it releases the timer and the signal listener).
 *
 * @example
 * ```ts
 * import { Deadline } from "./deadline.ts";
 * const deadline = new Deadline({ timeoutMs: 50 }, () => console.log("closing the connection"));
 * await deadline.race(new Promise(() => {})).catch((e) => e.kind); // "timeout" after 50 ms
 * deadline.dispose();
 * ```
 */
export class Deadline {
  readonly #expired: Promise<never>;
  #reject: ((error: StreamError) => void) | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #signal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;
  #error: StreamError | undefined;
  #armed = false;
  readonly #onExpire: () => void;

  /** Start the clock; `onExpire` runs once when the deadline passes (close the connection). */
  constructor(options: DeadlineOptions, onExpire: () => void) {
    this.#onExpire = onExpire;
    this.#expired = new Promise<never>((_, reject) => (this.#reject = reject));
    this.#expired.catch(() => {}); // observed through race() only
    const { signal, timeoutMs } = options;
    this.#armed = signal !== undefined || (timeoutMs !== undefined && Number.isFinite(timeoutMs));
    if (signal?.aborted) {
      this.#expire("aborted");
      return;
    }
    if (signal) {
      this.#signal = signal;
      this.#onAbort = () => this.#expire("aborted");
      signal.addEventListener("abort", this.#onAbort, { once: true });
    }
    if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
      this.#timer = setTimeout(() => this.#expire(`timed out after ${timeoutMs} ms`), timeoutMs);
      (this.#timer as { unref?: () => void }).unref?.();
    }
  }

  /** True once the deadline has passed. */
  get expired(): boolean {
    return this.#error !== undefined;
  }

  /** `op`, unless the deadline passes first (then a `timeout` rejection). */
  race<T>(op: Promise<T>): Promise<T> {
    if (this.#error) {
      op.catch(() => {});
      return Promise.reject(this.#error);
    }
    if (!this.#armed) return op; // no deadline configured
    return Promise.race([op, this.#expired]);
  }

  /** Stop the clock and release the signal listener. */
  dispose(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#signal && this.#onAbort) this.#signal.removeEventListener("abort", this.#onAbort);
    this.#signal = undefined;
  }

  #expire(why: string): void {
    if (this.#error) return;
    this.#error = new StreamError("timeout", `stream deadline passed (${why})`);
    this.dispose();
    try {
      this.#onExpire();
    } finally {
      this.#reject?.(this.#error);
    }
  }
}
