/**
 * What the core asks its host to do. Handlers return effects; the host performs them.
 * Timers are data: the host delivers each scheduled {@linkcode Timer} back to the core
 * after its delay, possibly late; stale timers are recognised by their tokens and ignored,
 * so nothing is ever cancelled (the foca model; `TimerTokens` in `context.ts` keeps the latest).
 *
 * @module
 */

import type { PeerAddress } from "./address.ts";
import type { Member } from "./member.ts";
import type { Ping, PushPull } from "./messages.ts";

/**
 * A timer the core wants delivered back after a delay. Each carries the token it was armed
 * with; a firing whose token is no longer the latest for its timer is stale and ignored.
 */
export type Timer =
  /** Start the next probe (and conclude the previous one). */
  | { readonly kind: "probe"; readonly token: number }
  /** The direct ack for the current probe is overdue: go indirect. */
  | { readonly kind: "probeTimeout"; readonly token: number }
  /** Run a gossip round. */
  | { readonly kind: "gossip"; readonly token: number }
  /** A suspicion about `node` may have expired. */
  | { readonly kind: "suspicion"; readonly token: number; readonly node: string }
  /** The indirect probe we relay under `seqNo` has run out of time. */
  | { readonly kind: "relayTimeout"; readonly token: number; readonly seqNo: number }
  /** `node`'s name may be taken by another address now (protocol.md §13.4). */
  | { readonly kind: "reclaim"; readonly token: number; readonly node: string }
  /** Exchange full state with a random member (anti-entropy). */
  | { readonly kind: "sync"; readonly token: number }
  /** A burst of joins may have calmed down: sync once it has (protocol.md §12). */
  | { readonly kind: "churnSync"; readonly token: number }
  /** Announce ourselves again to seeds we do not see (partition healing). */
  | { readonly kind: "reannounce"; readonly token: number }
  /** The events of flapping `node` may be told again (protocol.md §21). */
  | { readonly kind: "damping"; readonly token: number; readonly node: string }
  /** Try the seeds again if we still know nobody. */
  | { readonly kind: "join"; readonly token: number; readonly attempt: number };

/** A change in membership, as seen by this node. */
export type MembershipEventType =
  | "join"
  | "update"
  | "suspect"
  | "alive"
  | "leave"
  | "dead"
  | "unreachable"
  | "conflict";

/** A membership event: `member` is the snapshot right after the change. */
export interface MembershipEvent {
  /** What happened. */
  readonly type: MembershipEventType;
  /** The member it happened to. */
  readonly member: Member;
  /** For `conflict`: the other address that claimed the member's name. */
  readonly conflict?: { readonly address: string; readonly port: number };
}

/** One resolved address of a seed name: an IP literal, and a port for an SRV record. */
export interface ResolvedAddress {
  /** IP literal. */
  readonly host: string;
  /** The SRV record's port; absent for A/AAAA, where the seed's port applies. */
  readonly port?: number;
}

/** The answer for one name of a `resolve` effect: its addresses, or why there are none. */
export interface ResolveResult {
  /** The name, as in the effect. */
  readonly name: string;
  /** Its addresses now (empty or absent with `error`). */
  readonly addresses?: readonly ResolvedAddress[];
  /** Why it did not resolve (unknown name, timeout, no permission). */
  readonly error?: string;
}

/** Something the host must do. */
export type Effect =
  /** Send one datagram. */
  | { readonly type: "send"; readonly to: PeerAddress; readonly bytes: Uint8Array }
  /** Deliver `timer` back to the core after `delay` ms. */
  | { readonly type: "schedule"; readonly timer: Timer; readonly delay: number }
  /** Tell the application. */
  | { readonly type: "event"; readonly event: MembershipEvent }
  /** A local announcement (leave or metadata update) has finished spreading. */
  | { readonly type: "settled"; readonly what: "leave" | "meta"; readonly incarnation: number }
  /**
   * Exchange full state with `to` over a stream (push/pull, protocol.md §6.4): send `request`
   * (our state when the effect was emitted), then hand the reply to
   * `Swim.handlePushPullReply()`.
   */
  | { readonly type: "pushPull"; readonly to: PeerAddress; readonly request: PushPull }
  /**
   * The fallback probe over a stream (protocol.md §8.4): send `ping`, expect an ack with its
   * `seqNo` within `timeout` ms, report with `Swim.handleStreamPingResult()`.
   */
  | {
    readonly type: "streamPing";
    readonly to: PeerAddress;
    readonly ping: Ping;
    readonly timeout: number;
  }
  /** Deliver a user message reliably, over a stream. */
  | { readonly type: "userStream"; readonly to: PeerAddress; readonly payload: Uint8Array }
  /**
   * Resolve seed `names` (DNS: A/AAAA, or SRV for `_service._proto.domain`) and answer with
   * `Swim.handleResolved(token, results)`, one result per name. An answer whose token is no
   * longer the latest is ignored, so a late one needs no cancelling.
   */
  | { readonly type: "resolve"; readonly names: readonly string[]; readonly token: number }
  /** A user message arrived (packet or stream) for the application. */
  | { readonly type: "user"; readonly payload: Uint8Array; readonly from: PeerAddress }
  /**
   * A push/pull merged and carried user state (memberlist's delegate
   * `MergeRemoteState(buf, join)`): hand it to the layer that set `localState`.
   */
  | { readonly type: "remoteState"; readonly state: Uint8Array; readonly join: boolean };
