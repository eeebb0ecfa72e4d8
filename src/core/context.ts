/**
 * What the parts of the SWIM state machine share: settings, clock, randomness, the member
 * table, counters, local health, and the outbox of effects for the current input.
 *
 * @module
 */

import { bytesToIp, type PeerAddress } from "./address.ts";
import type { Awareness } from "./awareness.ts";
import type { Codec } from "./codec.ts";
import type { SwimConfig } from "./config.ts";
import type { Effect, MembershipEventType, Timer } from "./effects.ts";
import { isActive, type MemberRecord, snapshot } from "./member.ts";
import type { MemberTable } from "./membership.ts";
import type { Alive, Dead, Ping } from "./messages.ts";
import type { Rng } from "./rng.ts";
import type { CoreStats } from "./stats.ts";

/** Collects the effects one input produces; the state machine drains it after each input. */
export class Outbox {
  #effects: Effect[] = [];

  /** Queue any effect. */
  push(effect: Effect): void {
    this.#effects.push(effect);
  }

  /** Send one datagram. */
  send(to: PeerAddress, bytes: Uint8Array): void {
    this.#effects.push({ type: "send", to, bytes });
  }

  /** Ask for `timer` back after `delay` ms. */
  schedule(timer: Timer, delay: number): void {
    this.#effects.push({ type: "schedule", timer, delay });
  }

  /** Tell the application about `m` (a snapshot is taken now). */
  emit(
    type: MembershipEventType,
    m: MemberRecord,
    conflict?: { address: string; port: number },
  ): void {
    const event = conflict
      ? { type, member: snapshot(m), conflict }
      : { type, member: snapshot(m) };
    this.#effects.push({ type: "event", event });
  }

  /** A local announcement finished spreading. */
  settled(what: "leave" | "meta", incarnation: number): void {
    this.#effects.push({ type: "settled", what, incarnation });
  }

  /** Take every effect queued so far. */
  drain(): Effect[] {
    const out = this.#effects;
    this.#effects = [];
    return out;
  }
}

/** The shared state of one SWIM member. */
export interface Context {
  /** Protocol settings. */
  readonly cfg: SwimConfig;
  /** Wire format. */
  readonly codec: Codec;
  /** Current time, ms. */
  readonly now: () => number;
  /** Randomness. */
  readonly rng: Rng;
  /** Our own record (also in the table). */
  readonly self: MemberRecord;
  /** Every member we know. */
  readonly table: MemberTable;
  /** Counters. */
  readonly stats: CoreStats;
  /** Local health (Lifeguard). */
  readonly awareness: Awareness;
  /** Effects of the current input. */
  readonly out: Outbox;
  /** The host can perform stream effects. */
  readonly streams: boolean;
  /** True once we started leaving. */
  leaving: boolean;
  /** Sender of the datagram being handled, if any. */
  packetFrom: PeerAddress | undefined;
  /** Last sequence number used (probes and relays share it). */
  seq: number;
}

/** The next probe sequence number (uint32, wrapping). */
export function nextSeq(ctx: Context): number {
  ctx.seq = (ctx.seq + 1) >>> 0;
  return ctx.seq;
}

/** `duration × (health score + 1)` when Lifeguard awareness is on. */
export function scaled(ctx: Context, duration: number): number {
  return ctx.cfg.lifeguard.awareness ? ctx.awareness.scale(duration) : duration;
}

/** Is any member besides us alive, suspect or unreachable? */
export function hasPeers(ctx: Context): boolean {
  for (const m of ctx.table.values()) {
    if (m !== ctx.self && isActive(m.state)) return true;
  }
  return false;
}

/** The member at `to`, if we know one (for CRC framing). */
export function memberAt(ctx: Context, to: PeerAddress): MemberRecord | undefined {
  for (const m of ctx.table.values()) if (m.host === to.host && m.port === to.port) return m;
  return undefined;
}

/** Is an active member (self included) at `to`? Stops at the first match. */
export function liveAt(ctx: Context, to: PeerAddress): boolean {
  for (const m of ctx.table.values()) {
    if (m.port === to.port && m.host === to.host && isActive(m.state)) return true;
  }
  return false;
}

/** A member's address. */
export function addressOf(m: MemberRecord): PeerAddress {
  return { host: m.host, port: m.port };
}

/** The alive rumour that announces `m` as we know it. */
export function aliveRumour(m: MemberRecord): Alive {
  return {
    type: "alive",
    incarnation: m.incarnation,
    node: m.name,
    addr: m.addr,
    port: m.port,
    meta: m.meta,
    vsn: m.vsn,
  };
}

/** The dead rumour that announces `m` left (From = its own name). */
export function leftRumour(m: MemberRecord): Dead {
  return { type: "dead", incarnation: m.incarnation, node: m.name, from: m.name };
}

/** A ping from `self` to the member called `node` (empty: whoever is there). */
export function pingFrom(self: MemberRecord, seqNo: number, node: string): Ping {
  return {
    type: "ping",
    seqNo,
    node,
    sourceAddr: self.addr,
    sourcePort: self.port,
    sourceNode: self.name,
  };
}

/** IP text of raw address bytes, or "" for a malformed length. */
export function safeIp(bytes: Uint8Array): string {
  return bytes.length === 4 || bytes.length === 16 ? bytesToIp(bytes) : "";
}

/** Where to answer a ping or indirect ping: its Source fields, else the datagram's sender. */
export function replyAddress(
  m: { sourceAddr?: Uint8Array; sourcePort?: number },
  from: PeerAddress,
): PeerAddress {
  if (m.sourceAddr && m.sourceAddr.length && m.sourcePort) {
    const host = safeIp(m.sourceAddr);
    if (host) return { host, port: m.sourcePort };
  }
  return from;
}
