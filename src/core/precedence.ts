/**
 * Precedence (protocol.md §7.1): which of two claims about one member wins. The single rule
 * every rumour, full-state merge and local change passes through; what happens next (gossip,
 * events, refutation) is decided by the caller from the verdict.
 *
 * @module
 */

import type { ConflictPolicy } from "./config.ts";
import { isActive, type MemberState } from "./member.ts";

/** A statement about a member: its state at an incarnation. */
export interface Claim {
  /** The state claimed. */
  readonly state: MemberState;
  /** The incarnation it is claimed at. */
  readonly incarnation: number;
}

/**
 * How a claim compares to what we hold:
 * - `newer`: it wins; apply it;
 * - `same`: it says what we hold (a suspicion confirmed by another accuser, an echo);
 * - `stale`: what we hold outranks it: the sender missed newer news;
 * - `ignored`: it outranks our record but may not replace it (only an alive brings back a
 *   dead or left member, and an unreachable member waits for confirmation, not a new
 *   suspicion); also any claim but a non-zero alive about an unknown member.
 */
export type Verdict = "newer" | "same" | "stale" | "ignored";

/**
 * Rank within one incarnation: `alive < suspect < unreachable < dead = left`. Unreachable
 * (with `confirmDeaths`) is a suspicion that expired locally and never travels.
 */
const RANK: Readonly<Record<MemberState, number>> = {
  alive: 0,
  suspect: 1,
  unreachable: 2,
  dead: 3,
  left: 3,
};

/** Order two claims: by incarnation, then by rank. Negative when `a` is outranked by `b`. */
export function compareClaims(a: Claim, b: Claim): number {
  return a.incarnation !== b.incarnation
    ? a.incarnation - b.incarnation
    : RANK[a.state] - RANK[b.state];
}

/** Judge `claim` against the record we hold (`undefined`: the member is unknown to us). */
export function judge(held: Claim | undefined, claim: Claim): Verdict {
  if (held === undefined) {
    return claim.state === "alive" && claim.incarnation > 0 ? "newer" : "ignored";
  }
  const order = compareClaims(claim, held);
  if (order < 0) return "stale";
  if (order === 0) return "same";
  switch (claim.state) {
    case "alive":
      return "newer";
    case "suspect":
      return held.state === "alive" || held.state === "suspect" ? "newer" : "ignored";
    default:
      return isActive(held.state) ? "newer" : "ignored";
  }
}

/**
 * An alive claim for a known member from another address: may it take the name (the
 * configured conflict policy)? A member that left gave its name up.
 */
export function mayMove(policy: ConflictPolicy, held: Claim, claim: Claim): boolean {
  if (held.state === "left") return true;
  switch (policy) {
    case "reject":
      return false;
    case "replace-dead":
      return held.state === "dead";
    case "replace":
      return claim.incarnation > held.incarnation || held.state === "dead";
  }
}

/**
 * Our next incarnation: above `current`, and above `accused` when we refute an accusation
 * (uint32, wrapping).
 */
export function outbid(current: number, accused?: number): number {
  const next = (current + 1) >>> 0;
  return accused !== undefined && accused >= next ? (accused + 1) >>> 0 : next;
}
