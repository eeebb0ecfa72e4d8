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
 *   suspicion); also any claim but a non-zero alive about an unknown member;
 * - `implausible`: its incarnation is further above ours than any member climbs between two
 *   messages we could have missed (see {@linkcode MAX_INCARNATION_JUMP},
 *   {@linkcode MAX_ACCUSATION_JUMP}) — a forgery aiming at the incarnation's end (protocol.md §7.1).
 */
export type Verdict = "newer" | "same" | "stale" | "ignored" | "implausible";

/**
 * The largest rise of a known member's incarnation an alive may carry (2^20: a restarted
 * member's time-based incarnation rises by its downtime in seconds, about 12 days of it).
 */
export const MAX_INCARNATION_JUMP = 2 ** 20;

/**
 * The largest rise an accusation (suspect, dead, left) may carry. An accuser can only know an
 * incarnation the member announced, and we miss few of those; a small bound makes a forged
 * ladder of deaths, each refuted a step higher, take millions of packets to reach the end.
 */
export const MAX_ACCUSATION_JUMP = 256;

/** The last incarnation; ours saturates there rather than wrap to 0 and lose. */
export const MAX_INCARNATION = 0xffff_ffff;

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
  const jump = claim.state === "alive" ? MAX_INCARNATION_JUMP : MAX_ACCUSATION_JUMP;
  if (claim.incarnation - held.incarnation > jump) return "implausible";
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
 * configured conflict policy)? Only a member dead or left for `reclaimTime` ms can lose its
 * name to a higher incarnation elsewhere, so that a live member refutes a forged death or
 * leave before its address can be taken (`"replace"` also moves live members, on purpose).
 */
export function mayMove(
  policy: ConflictPolicy,
  held: Claim,
  claim: Claim,
  deadFor: number,
  reclaimTime: number,
): boolean {
  const gone = held.state === "dead" || held.state === "left";
  const reclaimable = gone && deadFor >= reclaimTime && claim.incarnation > held.incarnation;
  switch (policy) {
    case "reject":
      return reclaimable && held.state === "left";
    case "replace-dead":
      return reclaimable;
    case "replace":
      return reclaimable || claim.incarnation > held.incarnation;
  }
}

/**
 * Our next incarnation: above `current`, and above `accused` when we refute an accusation;
 * it saturates at {@linkcode MAX_INCARNATION} instead of wrapping.
 */
export function outbid(current: number, accused?: number): number {
  const next = Math.min(current + 1, MAX_INCARNATION);
  return accused !== undefined && accused >= next ? Math.min(accused + 1, MAX_INCARNATION) : next;
}
