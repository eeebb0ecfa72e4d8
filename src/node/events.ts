/**
 * Fan-out of membership events to any number of async-iterator subscribers.
 *
 * @module
 */

interface Subscriber<T> {
  queue: T[];
  wake: (() => void) | undefined;
}

/** Delivers every published event to every open subscription, in order, losing none. */
export class EventHub<T> {
  readonly #subs = new Set<Subscriber<T>>();
  readonly #listeners = new Set<(e: T) => void>();
  #closed = false;

  /** Deliver `event` to every subscriber and listener. */
  publish(event: T): void {
    if (this.#closed) return;
    for (const s of this.#subs) {
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
    const sub: Subscriber<T> = { queue: [], wake: undefined };
    if (!this.#closed) this.#subs.add(sub);
    const done = (): IteratorResult<T> => ({ done: true, value: undefined });
    const iterator: AsyncIterableIterator<T> = {
      next: async (): Promise<IteratorResult<T>> => {
        while (sub.queue.length === 0) {
          if (this.#closed || !this.#subs.has(sub)) return done();
          await new Promise<void>((resolve) => (sub.wake = resolve));
          sub.wake = undefined;
        }
        return { done: false, value: sub.queue.shift()! };
      },
      return: (): Promise<IteratorResult<T>> => {
        this.#subs.delete(sub);
        sub.queue.length = 0;
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
