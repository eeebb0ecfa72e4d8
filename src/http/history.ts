/**
 * Bounded recent history for the dashboard: what the local member saw over the last few
 * minutes, kept in fixed-size ring buffers so memory stays flat however long the agent runs.
 *
 * - a **timeline** of membership changes (who went from which state to which, and when);
 * - one **sample** per interval (default 1 s): Lifeguard health score and packets/s in and out
 *   (rates of the transport's datagram counters);
 * - the **probe RTT histogram** of the window (the core's cumulative histogram now minus the
 *   one at the window's start), per bucket rather than cumulative.
 *
 * @module
 */

import type { MembershipEventType } from "../core/effects.ts";
import type { MemberState } from "../core/member.ts";
import { RTT_BUCKETS } from "../core/stats.ts";
import { findHealthScore } from "./health.ts";
import type { ClusterView } from "./view.ts";

/** How far back the history reaches by default, ms (5 minutes). */
export const DEFAULT_HISTORY_WINDOW_MS = 300_000;
/** Default period of stats samples, ms. */
export const DEFAULT_SAMPLE_INTERVAL_MS = 1000;
/** Most timeline entries kept, whatever their age (a mass failure of a large cluster). */
export const MAX_TIMELINE_ENTRIES = 4096;

/** A fixed-capacity FIFO: pushing onto a full ring drops the oldest item. */
export class Ring<T> {
  readonly #items: (T | undefined)[];
  #start = 0;
  #size = 0;

  /** A ring holding at most `capacity` (≥ 1) items. */
  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`ring capacity must be a positive integer, got ${capacity}`);
    }
    this.#items = new Array(capacity);
  }

  /** Items held. */
  get size(): number {
    return this.#size;
  }

  /** Append `item`, dropping the oldest when full. */
  push(item: T): void {
    if (this.#size < this.capacity) {
      this.#items[(this.#start + this.#size++) % this.capacity] = item;
    } else {
      this.#items[this.#start] = item;
      this.#start = (this.#start + 1) % this.capacity;
    }
  }

  /** The oldest item, if any. */
  first(): T | undefined {
    return this.#size ? this.#items[this.#start] : undefined;
  }

  /** Drop the oldest item. */
  shift(): void {
    if (!this.#size) return;
    this.#items[this.#start] = undefined;
    this.#start = (this.#start + 1) % this.capacity;
    this.#size--;
  }

  /** The items, oldest first. */
  toArray(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.#size; i++) out.push(this.#items[(this.#start + i) % this.capacity]!);
    return out;
  }
}

/** One membership change on the timeline. */
export interface TimelineEntry {
  /** When the local member saw it, epoch ms. */
  readonly t: number;
  /** The member that changed. */
  readonly member: string;
  /** The event. */
  readonly type: MembershipEventType;
  /** Its state before (`null` when first seen). */
  readonly from: MemberState | null;
  /** Its state after. */
  readonly to: MemberState;
  /** Its incarnation after. */
  readonly incarnation: number;
}

/** One periodic sample. */
export interface StatsSample {
  /** When it was taken, epoch ms. */
  readonly t: number;
  /** Lifeguard local health score (0 is healthy; 0 when the core does not report one). */
  readonly healthScore: number;
  /** Datagrams received per second since the previous sample. */
  readonly packetsInPerSec: number;
  /** Datagrams sent per second since the previous sample. */
  readonly packetsOutPerSec: number;
}

/** The probe round-trip-time histogram over the history window. */
export interface RttWindow {
  /** Upper bounds of the buckets, ms (the core's `RTT_BUCKETS`). */
  readonly buckets: readonly number[];
  /**
   * Probes per bucket in the window, not cumulative: `counts[i]` fell in
   * `(buckets[i-1], buckets[i]]`; one more entry at the end counts those above the last bound.
   */
  readonly counts: readonly number[];
  /** Probes in the window. */
  readonly count: number;
  /** Their mean RTT, ms (0 without probes). */
  readonly meanMs: number;
  /** The last successful probe's RTT, ms. */
  readonly lastMs: number;
  /** Probes since the member started. */
  readonly total: number;
}

/** Everything the dashboard needs to draw the last few minutes (the SSE snapshot's `history`). */
export interface HistoryJson {
  /** How far back the history reaches, ms. */
  readonly windowMs: number;
  /** Period of samples, ms. */
  readonly intervalMs: number;
  /** Samples, oldest first. */
  readonly samples: readonly StatsSample[];
  /** Membership changes in the window, oldest first. */
  readonly timeline: readonly TimelineEntry[];
  /** Probe RTTs in the window. */
  readonly rtt: RttWindow;
}

/** What each new sample sends to the dashboard (the SSE `stats` event). */
export interface StatsEventJson {
  /** The new sample. */
  readonly sample: StatsSample;
  /** Probe RTTs in the window, as of the sample. */
  readonly rtt: RttWindow;
}

interface Counters {
  readonly t: number;
  readonly packetsIn: number;
  readonly packetsOut: number;
  readonly rttCounts: readonly number[];
  readonly rttSum: number;
  readonly rttCount: number;
  readonly rttLast: number;
}

/** Options of {@linkcode History}. */
export interface HistoryOptions {
  /** How far back to keep, ms (default {@linkcode DEFAULT_HISTORY_WINDOW_MS}). */
  readonly windowMs?: number;
  /** Sample period, ms (default {@linkcode DEFAULT_SAMPLE_INTERVAL_MS}). */
  readonly intervalMs?: number;
}

/**
 * The history of one view. It does not run timers itself: its owner calls
 * {@linkcode History.sample} every `intervalMs` and {@linkcode History.record} for every event.
 */
export class History {
  /** How far back it keeps, ms. */
  readonly windowMs: number;
  /** Sample period, ms. */
  readonly intervalMs: number;
  readonly #view: ClusterView;
  readonly #samples: Ring<StatsSample>;
  readonly #counters: Ring<Counters>;
  readonly #timeline = new Ring<TimelineEntry>(MAX_TIMELINE_ENTRIES);
  #last: Counters;

  /** Start the history of `view` at `now` (epoch ms). */
  constructor(view: ClusterView, now: number, options: HistoryOptions = {}) {
    this.windowMs = positive(options.windowMs ?? DEFAULT_HISTORY_WINDOW_MS, "windowMs");
    this.intervalMs = positive(options.intervalMs ?? DEFAULT_SAMPLE_INTERVAL_MS, "intervalMs");
    this.#view = view;
    const capacity = Math.max(2, Math.ceil(this.windowMs / this.intervalMs) + 1);
    this.#samples = new Ring(capacity);
    this.#counters = new Ring(capacity);
    this.#last = readCounters(view, now);
    this.#counters.push(this.#last);
  }

  /** Note a membership change of `member` from `from` to `to`, seen at `t`. */
  record(
    t: number,
    member: string,
    type: MembershipEventType,
    from: MemberState | null,
    to: MemberState,
    incarnation: number,
  ): void {
    this.#timeline.push({ t, member, type, from, to, incarnation });
    this.#prune(t);
  }

  /** Take a sample at `now` (epoch ms) and return it with the window's RTT histogram. */
  sample(now: number): StatsEventJson {
    const c = readCounters(this.#view, now);
    const dt = Math.max(1, c.t - this.#last.t) / 1000;
    const sample: StatsSample = {
      t: now,
      healthScore: safe(() => findHealthScore(this.#view)) ?? 0,
      packetsInPerSec: round1(Math.max(0, c.packetsIn - this.#last.packetsIn) / dt),
      packetsOutPerSec: round1(Math.max(0, c.packetsOut - this.#last.packetsOut) / dt),
    };
    this.#last = c;
    this.#samples.push(sample);
    this.#counters.push(c);
    this.#prune(now);
    return { sample, rtt: this.rtt() };
  }

  /** Probe RTTs since the oldest sample kept. */
  rtt(): RttWindow {
    const base = this.#counters.first() ?? this.#last, now = this.#last;
    const cumulative = now.rttCounts.map((n, i) => Math.max(0, n - (base.rttCounts[i] ?? 0)));
    const count = Math.max(0, now.rttCount - base.rttCount);
    const counts = cumulative.map((n, i) => Math.max(0, n - (i ? cumulative[i - 1] : 0)));
    counts.push(Math.max(0, count - (cumulative.at(-1) ?? 0)));
    const sum = Math.max(0, now.rttSum - base.rttSum);
    return {
      buckets: RTT_BUCKETS,
      counts,
      count,
      meanMs: count ? round1(sum / count) : 0,
      lastMs: round1(now.rttLast),
      total: now.rttCount,
    };
  }

  /** The whole history as JSON, as of `now`. */
  toJson(now: number): HistoryJson {
    this.#prune(now);
    return {
      windowMs: this.windowMs,
      intervalMs: this.intervalMs,
      samples: this.#samples.toArray(),
      timeline: this.#timeline.toArray(),
      rtt: this.rtt(),
    };
  }

  #prune(now: number): void {
    const cutoff = now - this.windowMs;
    // Every loop removes one item per turn from a bounded ring.
    while ((this.#timeline.first()?.t ?? Infinity) < cutoff) this.#timeline.shift();
    while ((this.#samples.first()?.t ?? Infinity) < cutoff) this.#samples.shift();
    while (this.#counters.size > 1 && this.#counters.first()!.t < cutoff) this.#counters.shift();
  }
}

function readCounters(view: ClusterView, now: number): Counters {
  const stats = safe(() => view.stats());
  const rtt = stats?.core?.probeRtt;
  return {
    t: now,
    packetsIn: finite(stats?.transport?.packetsIn),
    packetsOut: finite(stats?.transport?.packetsOut),
    rttCounts: RTT_BUCKETS.map((_, i) => finite(rtt?.counts?.[i])),
    rttSum: finite(rtt?.sum),
    rttCount: finite(rtt?.count),
    rttLast: finite(stats?.core?.lastProbeRtt),
  };
}

function safe<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined; // a closed node: no numbers rather than a broken stream
  }
}

function finite(n: unknown): number {
  return typeof n === "number" && Number.isFinite(n) ? n : 0;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

function positive(n: number, name: string): number {
  if (!Number.isFinite(n) || n <= 0) throw new RangeError(`${name} must be positive, got ${n}`);
  return n;
}
