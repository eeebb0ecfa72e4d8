/**
 * Fan-out of membership events to any number of async-iterator subscribers.
 *
 * @module
 */

interface Subscriber<T> {
  queue: T[];
  /** Index of the next event to deliver in `queue`. */
  head: number;
  wake: (() => void) | undefined;
}

/**
 * Delivers every published event to every open subscription, in order. A subscription that
 * falls `maxQueued` events behind loses its oldest ones (counted in
 * {@linkcode EventHub.dropped}), so a consumer that stopped reading cannot grow memory
 * without bound.
 */
export class EventHub<T> {
  readonly #subs = new Set<Subscriber<T>>();
  readonly #listeners = new Set<(e: T) => void>();
  readonly #maxQueued: number;
  #closed = false;
  #dropped = 0;

  /** A hub whose subscriptions each hold at most `maxQueued` undelivered events. */
  constructor(maxQueued = 65_536) {
    this.#maxQueued = maxQueued;
  }

  /** Events dropped from subscriptions that fell too far behind. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Deliver `event` to every subscriber and listener. */
  publish(event: T): void {
    if (this.#closed) return;
    for (const s of this.#subs) {
      if (s.queue.length - s.head >= this.#maxQueued) {
        s.head++;
        this.#dropped++;
      }
      if (s.head > 1024 && s.head * 2 > s.queue.length) {
        s.queue = s.queue.slice(s.head);
        s.head = 0;
      }
      s.queue.push(event);
      s.wake?.();
    }
    for (const fn of this.#listeners) {
      try {
        fn(event);
      } catch {
        // A throwing listener must not break the node.
      }
    }
  }

  /** Call `fn` for every event until the returned function is called. */
  listen(fn: (e: T) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** A new subscription: events published from now on, ending when the hub closes. */
  subscribe(): AsyncIterableIterator<T> {
    const sub: Subscriber<T> = { queue: [], head: 0, wake: undefined };
    if (!this.#closed) this.#subs.add(sub);
    const done = (): IteratorResult<T> => ({ done: true, value: undefined });
    const iterator: AsyncIterableIterator<T> = {
      next: async (): Promise<IteratorResult<T>> => {
        while (sub.head >= sub.queue.length) {
          if (this.#closed || !this.#subs.has(sub)) return done();
          await new Promise<void>((resolve) => (sub.wake = resolve));
          sub.wake = undefined;
        }
        const value = sub.queue[sub.head++];
        if (sub.head === sub.queue.length) {
          sub.queue = [];
          sub.head = 0;
        }
        return { done: false, value };
      },
      return: (): Promise<IteratorResult<T>> => {
        this.#subs.delete(sub);
        sub.queue = [];
        sub.head = 0;
        sub.wake?.();
        return Promise.resolve(done());
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  /** End every subscription (queued events are still delivered first). */
  close(): void {
    this.#closed = true;
    for (const s of this.#subs) s.wake?.();
    this.#listeners.clear();
  }
}
