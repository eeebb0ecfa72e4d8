/**
 * Remembers when each member last changed, as seen by the local member: the core keeps this
 * internally but does not publish it, so the agent records it from membership events.
 *
 * @module
 */

import type { MembershipEvent } from "../core/effects.ts";
import type { ClusterView } from "./view.ts";

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
  readonly #now: () => number;
  readonly #stop: () => void;

  /** Start tracking `view`'s events. `now` defaults to `Date.now`. */
  constructor(view: ClusterView, now: () => number = Date.now) {
    this.#now = now;
    const t = now();
    for (const m of view.members()) this.#times.set(m.name, t);
    this.#stop = view.onEvent((event) => this.record(event));
  }

  /** Note `event` (called for every event of the tracked view). */
  record(event: MembershipEvent): void {
    this.#times.set(event.member.name, this.#now());
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

  /** Stop listening. */
  close(): void {
    this.#stop();
  }
}
