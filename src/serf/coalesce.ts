/**
 * Coalescing of user events, as a serf agent does: events sent with `coalesce` are held for a
 * quantum; of each name only those at the newest Lamport time are delivered when the quantum
 * ends, or earlier once no event arrived for a quiescent period. Pure: the caller passes the
 * time and asks when to flush.
 *
 * @module
 */

/** What the coalescer needs of an event. */
export interface Coalescable {
  /** Event name: events coalesce per name. */
  readonly name: string;
  /** Event-clock time: only the newest survive. */
  readonly ltime: number;
  /** Whether the sender allowed coalescing. */
  readonly coalesce: boolean;
}

/**
 * Holds coalescable events; `add` returns the events to deliver now (those that may not be
 * coalesced), `flushAt` when to call `flush`.
 *
 * @example
 * ```ts
 * import { UserEventCoalescer } from "@shoal/swim/serf";
 * const c = new UserEventCoalescer(3000, 1000);
 * c.add({ name: "purge", ltime: 1, coalesce: true }, 0);
 * c.add({ name: "purge", ltime: 2, coalesce: true }, 10);
 * console.log(c.flushAt); // 1010: a quiet second after the last one
 * console.log(c.flush().map((e) => e.ltime)); // [2]
 * ```
 */
export class UserEventCoalescer<E extends Coalescable> {
  readonly #period: number;
  readonly #quiescent: number;
  #latest = new Map<string, { ltime: number; events: E[] }>();
  #quantumEnd = Infinity;
  #quietEnd = Infinity;
  /** Most distinct names held at once; events beyond it are delivered at once instead. */
  readonly maxNames: number;

  /** Coalesce over `periodMs`, flushing early after `quiescentMs` without events. */
  constructor(periodMs: number, quiescentMs: number, maxNames = 1024) {
    this.#period = periodMs;
    this.#quiescent = quiescentMs;
    this.maxNames = maxNames;
  }

  /** Events held. */
  get size(): number {
    let n = 0;
    for (const l of this.#latest.values()) n += l.events.length;
    return n;
  }

  /** When to call {@linkcode UserEventCoalescer.flush} (Infinity while nothing is held). */
  get flushAt(): number {
    return Math.min(this.#quantumEnd, this.#quietEnd);
  }

  /** Take event `e` at time `now`; returns the events to deliver at once. */
  add(e: E, now: number): E[] {
    if (!e.coalesce || this.#period <= 0) return [e];
    const latest = this.#latest.get(e.name);
    if (latest === undefined && this.#latest.size >= this.maxNames) return [e];
    if (this.#quantumEnd === Infinity) this.#quantumEnd = now + this.#period;
    this.#quietEnd = now + this.#quiescent;
    if (latest === undefined || latest.ltime < e.ltime) {
      this.#latest.set(e.name, { ltime: e.ltime, events: [e] });
    } else if (latest.ltime === e.ltime && latest.events.length < 64) latest.events.push(e);
    return [];
  }

  /** The held events (the newest of each name), and start over. */
  flush(): E[] {
    const out = [...this.#latest.values()].flatMap((l) => l.events);
    this.#latest = new Map();
    this.#quantumEnd = this.#quietEnd = Infinity;
    return out;
  }
}
