/**
 * Settled views: the coalescing rule behind `ShoalNode.views()` and `Simulator.watchViews()`.
 *
 * A member's raw membership changes once per newcomer; applications that rebalance on every
 * change (hash rings, shard maps) want few, settled views instead. A {@linkcode ViewCoalescer}
 * folds membership changes into views: a new view once changes have been quiet for `settle`
 * ms, or `maxDelay` ms after the first change it holds back, whichever comes first, so a
 * change (a crash, say) is never reported later than `maxDelay` after it was observed.
 *
 * Like the core, it is pure: the host passes the time in and arms the timers it asks for
 * (at most one per coalescer at a time), so the node (real timers) and the simulator (virtual
 * time) run exactly the same rule.
 *
 * @module
 */

import { bytesEqual, type Member, type MemberState } from "./member.ts";

/** Options of a settled view (`ShoalNode.views()`, `Simulator.watchViews()`). */
export interface ViewOptions {
  /**
   * Quiet time, in ms: a view is emitted once no change has been observed for this long
   * (default 1000).
   */
  readonly settle?: number;
  /**
   * Most time, in ms, a change is held back while changes keep coming: a view is emitted at
   * the latest this long after the first change it folds in (default 5000; ≥ `settle`).
   */
  readonly maxDelay?: number;
  /**
   * The member states a view includes (default `["alive", "suspect", "unreachable"]`: every
   * member not yet declared dead or left). A member moving between included states — a
   * suspicion and its refutation, say — is not a change, so by default suspicion never
   * produces a view and a crash produces one when it is confirmed (`dead`). Pass `["alive"]`
   * to drop suspects from views at once.
   */
  readonly states?: readonly MemberState[];
  /**
   * When the first view comes: `"now"` (default), the membership at subscription at once;
   * or `"settled"`, once the membership has been quiet for `settle` ms (at most `maxDelay`)
   * from the subscription, e.g. to skip the one-member view of a node still joining.
   */
  readonly initial?: "now" | "settled";
}

/** One settled view of the cluster, as one member sees it. */
export interface MemberView {
  /** 0 for the first view of a subscription, then 1, 2, … */
  readonly seq: number;
  /** Host clock time of the view, in ms (the node's `performance.now()`; virtual in the simulator). */
  readonly at: number;
  /** The members in the view (states in `ViewOptions.states`), this node included, by name. */
  readonly members: readonly Member[];
  /** Members in this view but not the previous one (names; every member in the first view). */
  readonly added: readonly string[];
  /** Members in the previous view but not this one. */
  readonly removed: readonly string[];
  /** Members in both whose address, port or metadata changed. */
  readonly updated: readonly string[];
  /** Membership changes observed and folded into this view (≥ the members it differs by). */
  readonly changes: number;
}

const DEFAULT_SETTLE = 1000;
const DEFAULT_MAX_DELAY = 5000;
const DEFAULT_STATES: readonly MemberState[] = ["alive", "suspect", "unreachable"];

/**
 * Coalesces membership changes into settled views. The host feeds it every membership
 * change ({@linkcode ViewCoalescer.observe}) and arms a timer whenever it returns a time;
 * when the timer fires it calls {@linkcode ViewCoalescer.poll}, and once
 * {@linkcode ViewCoalescer.due} it takes the view ({@linkcode ViewCoalescer.take}), now or
 * when its reader is ready. Memory: one entry per member in the view, plus one per member
 * changed since the last view.
 *
 * @example
 * ```ts
 * import { type Member, ViewCoalescer } from "@shoal/swim";
 *
 * const member = (name: string, state: Member["state"] = "alive"): Member => ({
 *   name, address: "10.0.0.1", port: 7946, state, incarnation: 1, meta: new Uint8Array(),
 * });
 * const views = new ViewCoalescer([member("a")], { settle: 1000, maxDelay: 5000 }, 0);
 * views.poll(0);
 * console.log(views.take(0)?.added); // ["a"]
 * const wakeAt = views.observe(member("b"), 100); // 1100: arm a timer for then
 * views.observe(member("c"), 600); // no new timer: the armed one will be polled
 * console.log(wakeAt, views.poll(1100)); // 1100 1600: not quiet yet, poll again at 1600
 * views.poll(1600);
 * console.log(views.due, views.take(1600)?.added); // true ["b", "c"]
 * ```
 */
export class ViewCoalescer {
  readonly #settle: number;
  readonly #maxDelay: number;
  readonly #states: ReadonlySet<MemberState>;
  /** The members in view now, by name. */
  readonly #current = new Map<string, Member>();
  /** Members changed since the last view: their entry in it (null: not in it). */
  readonly #before = new Map<string, Member | null>();
  #seq = 0;
  /** Time of the first and the latest change held back (NaN: none). */
  #first = NaN;
  #last = NaN;
  #changes = 0;
  #armed = false;
  #due: boolean;

  /**
   * A coalescer starting from `members` (e.g. the node's `members()`) at time `now`. Call
   * {@linkcode ViewCoalescer.poll} once at the start: it makes the first view due at once, or
   * (with `initial: "settled"`) returns the time to poll again.
   */
  constructor(members: Iterable<Member>, options: ViewOptions = {}, now: number) {
    const settle = options.settle ?? DEFAULT_SETTLE;
    const maxDelay = options.maxDelay ?? Math.max(DEFAULT_MAX_DELAY, settle);
    if (!(settle >= 0) || !Number.isFinite(settle)) {
      throw new RangeError(`views: settle must be a finite number ≥ 0, got ${settle}`);
    }
    if (!(maxDelay >= settle) || !Number.isFinite(maxDelay)) {
      throw new RangeError(`views: maxDelay must be finite and ≥ settle, got ${maxDelay}`);
    }
    this.#settle = settle;
    this.#maxDelay = maxDelay;
    this.#states = new Set(options.states ?? DEFAULT_STATES);
    for (const m of members) if (this.#states.has(m.state)) this.#current.set(m.name, m);
    this.#due = (options.initial ?? "now") === "now";
    if (!this.#due) this.#first = this.#last = now;
  }

  /** True when a view is ready to {@linkcode ViewCoalescer.take}. */
  get due(): boolean {
    return this.#due;
  }

  /** Members in view now. */
  get size(): number {
    return this.#current.size;
  }

  /**
   * A member's new snapshot (from a membership event) at `now`. Returns a time to arm a timer
   * for (then call {@linkcode ViewCoalescer.poll}), or undefined when no new timer is needed:
   * the change does not alter the view, a timer is armed already, or a view is due.
   */
  observe(member: Member, now: number): number | undefined {
    const old = this.#current.get(member.name);
    const inView = this.#states.has(member.state);
    if (inView) this.#current.set(member.name, member);
    else if (old) this.#current.delete(member.name);
    const changed = inView ? !old || !sameView(old, member) : old !== undefined;
    if (!changed) return undefined;
    if (!this.#before.has(member.name)) this.#before.set(member.name, old ?? null);
    this.#changes++;
    if (Number.isNaN(this.#first)) this.#first = now;
    this.#last = now;
    if (this.#due || this.#armed) return undefined;
    this.#armed = true;
    return this.#deadline();
  }

  /**
   * Check at `now` (from the armed timer): makes a view due when the changes held back have
   * settled or waited `maxDelay`, and returns the time to poll again if they have not.
   */
  poll(now: number): number | undefined {
    this.#armed = false;
    if (this.#due || Number.isNaN(this.#first)) return undefined;
    const deadline = this.#deadline();
    if (now < deadline) {
      this.#armed = true;
      return deadline;
    }
    if (this.#seq > 0 && !this.#differs()) {
      // The changes cancelled out (a member joined and died, metadata set back): no view.
      this.#reset();
      return undefined;
    }
    this.#due = true;
    return undefined;
  }

  /**
   * The view at `now`, with every change observed so far; undefined if it would not differ
   * from the previous view. Afterwards nothing is due or held back.
   */
  take(now: number): MemberView | undefined {
    if (this.#seq > 0 && !this.#differs()) {
      this.#due = false;
      this.#reset();
      return undefined;
    }
    const added: string[] = [], removed: string[] = [], updated: string[] = [];
    if (this.#seq === 0) added.push(...this.#current.keys());
    else {
      for (const [name, before] of this.#before) {
        const after = this.#current.get(name);
        if (!before) {
          if (after) added.push(name);
        } else if (!after) removed.push(name);
        else if (!sameView(before, after)) updated.push(name);
      }
    }
    const unsorted = [...this.#current.values()];
    let sorted: readonly Member[] | undefined;
    const view: MemberView = {
      seq: this.#seq++,
      at: now,
      // Sorted when first read: a host that only counts views never pays for it.
      get members() {
        return sorted ??= Object.freeze(unsorted.sort(byName));
      },
      added: added.sort(),
      removed: removed.sort(),
      updated: updated.sort(),
      changes: this.#changes,
    };
    this.#due = false;
    this.#reset();
    return view;
  }

  #deadline(): number {
    return Math.min(this.#last + this.#settle, this.#first + this.#maxDelay);
  }

  #differs(): boolean {
    for (const [name, before] of this.#before) {
      const after = this.#current.get(name);
      if (!before !== !after || (before && after && !sameView(before, after))) return true;
    }
    return false;
  }

  #reset(): void {
    this.#before.clear();
    this.#first = this.#last = NaN;
    this.#changes = 0;
  }
}

/** Same as far as a view is concerned: address, port and metadata (not state or incarnation). */
function sameView(a: Member, b: Member): boolean {
  return a.address === b.address && a.port === b.port && bytesEqual(a.meta, b.meta);
}

function byName(a: Member, b: Member): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
