/**
 * Remembers when each member last changed, as seen by the local member: the core keeps this
 * internally but does not publish it, so the agent records it from membership events. It also
 * keeps the dashboard's bounded recent {@linkcode History} (state changes, health score,
 * packets/s, probe RTTs), sampled on an `unref`'d timer until {@linkcode ChangeTracker.close}.
 *
 * @module
 */

import type { MembershipEvent } from "../core/effects.ts";
import type { MemberState } from "../core/member.ts";
import { History, type HistoryJson, type HistoryOptions, type StatsEventJson } from "./history.ts";
import type { ClusterView } from "./view.ts";

/** Options of {@linkcode ChangeTracker}. */
export interface ChangeTrackerOptions extends HistoryOptions {
  /** Keep no history and run no timer (last-change times only). */
  readonly history?: boolean;
}

/**
 * Last-change times (epoch ms) by member name. A member first seen in a snapshot (known
 * before tracking began) counts as changed when it was first seen.
 *
 * @example
 * ```ts ignore
 * const tracker = new ChangeTracker(node);
 * tracker.changedAt("node-2"); // 1767225600000
 * tracker.close();
 * ```
 */
export class ChangeTracker {
  readonly #times = new Map<string, number>();
  readonly #states = new Map<string, MemberState>();
  readonly #now: () => number;
  readonly #stop: () => void;
  readonly #history: History | undefined;
  readonly #listeners = new Set<(stats: StatsEventJson) => void>();
  #timer: ReturnType<typeof setInterval> | undefined;

  /**
   * Start tracking `view`'s events. `now` defaults to `Date.now`. Unless `options.history` is
   * `false`, history samples are taken every `options.intervalMs` (default 1 s).
   */
  constructor(
    view: ClusterView,
    now: () => number = Date.now,
    options: ChangeTrackerOptions = {},
  ) {
    this.#now = now;
    const t = now();
    for (const m of view.members()) {
      this.#times.set(m.name, t);
      this.#states.set(m.name, m.state);
    }
    this.#stop = view.onEvent((event) => this.record(event));
    if (options.history !== false) {
      const history = this.#history = new History(view, t, options);
      this.#timer = setInterval(() => {
        const stats = history.sample(this.#now());
        for (const fn of [...this.#listeners]) fn(stats);
      }, history.intervalMs);
      unrefTimer(this.#timer);
    }
  }

  /** Note `event` (called for every event of the tracked view). */
  record(event: MembershipEvent): void {
    const t = this.#now(), m = event.member;
    this.#times.set(m.name, t);
    const from = this.#states.get(m.name) ?? null;
    this.#states.set(m.name, m.state);
    this.#history?.record(t, m.name, event.type, from, m.state, m.incarnation);
  }

  /** When `name` last changed (epoch ms); first sight if no event was seen. */
  changedAt(name: string): number {
    let t = this.#times.get(name);
    if (t === undefined) {
      t = this.#now();
      this.#times.set(name, t);
    }
    return t;
  }

  /** The recent history (`undefined` when kept without one). */
  history(): HistoryJson | undefined {
    return this.#history?.toJson(this.#now());
  }

  /** Call `listener` with every new history sample; returns an unsubscribe function. */
  onSample(listener: (stats: StatsEventJson) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stop listening and sampling. */
  close(): void {
    this.#stop();
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#listeners.clear();
  }
}

/** Let the process exit with the timer pending (Node and Bun timers; Deno's numeric ids). */
function unrefTimer(timer: ReturnType<typeof setInterval>): void {
  if (typeof timer === "number") {
    (globalThis as { Deno?: { unrefTimer?: (id: number) => void } }).Deno?.unrefTimer?.(timer);
  } else {
    (timer as { unref?: () => void }).unref?.();
  }
}
