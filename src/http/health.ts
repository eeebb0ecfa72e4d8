/**
 * The local member's health as the agent reports it: Lifeguard's health score (when the
 * running core exposes one), the local state, and member counts by state.
 *
 * @module
 */

import { type Member, type MemberState, STATE_CODE } from "../core/member.ts";
import type { ClusterView } from "./view.ts";

/** Member counts, one per state. */
export type StateCounts = Record<MemberState, number>;

/** What `GET /v1/health` returns. */
export interface HealthReport {
  /** The local member's name. */
  readonly name: string;
  /** The local member's state (`alive` unless it is leaving). */
  readonly state: MemberState;
  /** Lifeguard local health score: 0 is healthy, higher means this node is struggling. */
  readonly healthScore: number;
  /** False when the core does not expose a health score yet (the score then reads 0). */
  readonly healthScoreKnown: boolean;
  /** Members by state, the local one included. */
  readonly members: StateCounts;
}

/** Every member state, in the core's order. */
export const MEMBER_STATES: readonly MemberState[] = Object.keys(STATE_CODE) as MemberState[];

/** Count members by state (every state present, 0 when none). */
export function countByState(members: readonly Member[]): StateCounts {
  const counts = Object.fromEntries(MEMBER_STATES.map((s) => [s, 0])) as StateCounts;
  for (const m of members) counts[m.state]++;
  return counts;
}

/**
 * The local health score, looked up where the core publishes it: a `healthScore` number (or
 * method) on the view, on its stats, or on its core stats. `undefined` when none exists.
 */
export function findHealthScore(view: ClusterView): number | undefined {
  const stats = view.stats() as unknown as Record<string, unknown> & { core?: unknown };
  const places = [view as unknown, stats, stats.core];
  for (const place of places) {
    if (place === null || typeof place !== "object") continue;
    let v = (place as { healthScore?: unknown }).healthScore;
    if (typeof v === "function") v = (v as () => unknown).call(place);
    if (typeof v === "number" && Number.isFinite(v)) return v;
  }
  return undefined;
}

/**
 * Build the health report of `view`.
 *
 * @example
 * ```ts ignore
 * healthReport(node); // { name: "a", state: "alive", healthScore: 0, members: { alive: 3, ... } }
 * ```
 */
export function healthReport(view: ClusterView): HealthReport {
  const score = findHealthScore(view);
  return {
    name: view.name,
    state: view.localMember().state,
    healthScore: score ?? 0,
    healthScoreKnown: score !== undefined,
    members: countByState(view.members()),
  };
}
