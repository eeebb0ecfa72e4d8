/**
 * Fan-out of membership events to any number of async-iterator subscribers.
 *
 * @module
 */

import type { MembershipEvent } from "../core/effects.ts";

interface Subscriber {
  queue: MembershipEvent[];
  wake: (() => void) | undefined;
}

/** Delivers every published event to every open subscription, in order, losing none. */
export class EventHub {
  readonly #subs = new Set<Subscriber>();
  readonly #listeners = new Set<(e: MembershipEvent) => void>();
  #closed = false;

  /** Deliver `event` to every subscriber and listener. */
  publish(event: MembershipEvent): void {
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
  listen(fn: (e: MembershipEvent) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** A new subscription: events published from now on, ending when the hub closes. */
  subscribe(): AsyncIterableIterator<MembershipEvent> {
    const sub: Subscriber = { queue: [], wake: undefined };
    if (!this.#closed) this.#subs.add(sub);
    const done = (): IteratorResult<MembershipEvent> => ({ done: true, value: undefined });
    const iterator: AsyncIterableIterator<MembershipEvent> = {
      next: async (): Promise<IteratorResult<MembershipEvent>> => {
        while (sub.queue.length === 0) {
          if (this.#closed || !this.#subs.has(sub)) return done();
          await new Promise<void>((resolve) => (sub.wake = resolve));
          sub.wake = undefined;
        }
        return { done: false, value: sub.queue.shift()! };
      },
      return: (): Promise<IteratorResult<MembershipEvent>> => {
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
