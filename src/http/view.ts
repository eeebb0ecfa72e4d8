/**
 * What the agent's HTTP API, metrics and dashboard need from a running member. A
 * `ShoalNode` is one; tests and the simulator can supply their own.
 *
 * @module
 */

import type { MembershipEvent } from "../core/effects.ts";
import type { Member } from "../core/member.ts";
import type { NodeStats } from "../node/node.ts";

/**
 * A live view of a cluster from one member's point of view, plus the two operations the API
 * exposes. {@linkcode ShoalNode} satisfies it as is.
 */
export interface ClusterView {
  /** The local member's name. */
  readonly name: string;
  /** Every known member, the local one included. */
  members(): Member[];
  /** One member by name. */
  member(name: string): Member | undefined;
  /** The local member. */
  localMember(): Member;
  /** Call `listener` for every membership event; returns an unsubscribe function. */
  onEvent(listener: (event: MembershipEvent) => void): () => void;
  /** Counters for metrics and health. */
  stats(): NodeStats;
  /** Announce to more members, `"host:port"` each. */
  join(seeds: readonly string[]): void;
  /** Leave gracefully. */
  leave(): Promise<void>;
}
