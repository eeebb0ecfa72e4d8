/**
 * Counters the core keeps about its own work. Plain numbers, read by metrics exporters.
 *
 * @module
 */

import type { DecodeErrorKind } from "./codec.ts";

/**
 * Why a member was refused: the table is full; its sender introduced too many new members;
 * its name or metadata is too long; its address is outside `allowedCidrs`.
 */
export type RefusalKind = "table-full" | "rate" | "name" | "meta" | "address";

/** Counters of protocol activity since the node started. */
export interface CoreStats {
  /** Datagrams handed to the core. */
  packetsIn: number;
  /** Messages decoded from those datagrams. */
  messagesIn: number;
  /** Datagrams dropped as undecodable, by reason. */
  decodeErrors: Partial<Record<DecodeErrorKind, number>>;
  /** Direct probes started. */
  probes: number;
  /** Probes that ended with no ack (the target became suspect). */
  probesFailed: number;
  /** Indirect probe requests sent. */
  indirectProbes: number;
  /** Acks matched to our own probes. */
  acksReceived: number;
  /** Nacks received from intermediaries. */
  nacksReceived: number;
  /** Suspicions this node raised itself. */
  suspicionsRaised: number;
  /** Suspicions or deaths about this node that it refuted. */
  refutations: number;
  /** Members this node declared dead when their suspicion expired. */
  deadDeclared: number;
  /** Pings addressed to another node name. */
  unexpectedPings: number;
  /** Indirect probe requests refused because too many were in flight. */
  relaysDropped: number;
  /** Alive messages refused because the name is held by another address. */
  conflicts: number;
  /** Times we re-gossiped our alive because an already-refuted accusation was still spreading. */
  reassertions: number;
  /** Probes that failed over datagrams but were answered over a stream. */
  fallbackAcks: number;
  /** Unanswered probes during which we stalled ourselves: nobody accused (protocol.md §10). */
  probesInconclusive: number;
  /** Full-state merges applied. */
  merges: number;
  /** Full-state merges refused for incompatible protocol versions. */
  mergesRejected: number;
  /** Outdated accusations answered with the newer alive, sent to their sender. */
  staleAnswered: number;
  /** Stale self-views corrected (a restarted member told it is suspect/dead/older). */
  corrections: number;
  /** Table feeds not sent because of the rate limit (the announce is not acked either). */
  feedsDropped: number;
  /** Suspect/alive events held back by flap damping (protocol.md §21). */
  eventsHeld: number;
  /** Newcomers greeted with our alive. */
  greetings: number;
  /** Greetings skipped because of the greeting budget (gossip tells them instead). */
  greetingsSkipped: number;
  /** Join attempts after the first (no full state received yet). */
  joinRetries: number;
  /** User messages received. */
  userMessages: number;
  /** New members refused, by reason. */
  membersRefused: Partial<Record<RefusalKind, number>>;
  /** Claims refused because their incarnation jumps implausibly far. */
  implausibleClaims: number;
  /** Datagrams dropped because their sender is outside `allowedCidrs`. */
  packetsRefused: number;
  /** Announces from an address not yet proven, answered with a challenge ping. */
  challenges: number;
  /** Round-trip time of the last successful direct probe, in ms. */
  lastProbeRtt: number;
  /** Histogram of successful probe round-trip times, in ms (Prometheus-style, cumulative). */
  probeRtt: RttHistogram;
}

/** Upper bounds (ms) of the probe RTT histogram buckets. */
export const RTT_BUCKETS: readonly number[] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000];

/** A cumulative histogram: `counts[i]` = samples ≤ `RTT_BUCKETS[i]`. */
export interface RttHistogram {
  /** Cumulative counts per bucket of {@linkcode RTT_BUCKETS}. */
  readonly counts: number[];
  /** Sum of all samples. */
  sum: number;
  /** Number of samples. */
  count: number;
}

/** Record one RTT sample. */
export function observeRtt(h: RttHistogram, ms: number): void {
  h.sum += ms;
  h.count++;
  for (let i = 0; i < RTT_BUCKETS.length; i++) if (ms <= RTT_BUCKETS[i]) h.counts[i]++;
}

/** Fresh zeroed counters. */
export function newCoreStats(): CoreStats {
  return {
    packetsIn: 0,
    messagesIn: 0,
    decodeErrors: {},
    probes: 0,
    probesFailed: 0,
    indirectProbes: 0,
    acksReceived: 0,
    nacksReceived: 0,
    suspicionsRaised: 0,
    refutations: 0,
    deadDeclared: 0,
    unexpectedPings: 0,
    relaysDropped: 0,
    conflicts: 0,
    corrections: 0,
    fallbackAcks: 0,
    probesInconclusive: 0,
    merges: 0,
    mergesRejected: 0,
    staleAnswered: 0,
    reassertions: 0,
    feedsDropped: 0,
    eventsHeld: 0,
    greetings: 0,
    greetingsSkipped: 0,
    joinRetries: 0,
    userMessages: 0,
    membersRefused: {},
    implausibleClaims: 0,
    packetsRefused: 0,
    challenges: 0,
    lastProbeRtt: 0,
    probeRtt: { counts: RTT_BUCKETS.map(() => 0), sum: 0, count: 0 },
  };
}
