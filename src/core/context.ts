/**
 * What the parts of the SWIM state machine share: settings, clock, randomness, the member
 * table, counters, local health, and the outbox of effects for the current input.
 *
 * @module
 */

import { bytesToIp, type PeerAddress } from "./address.ts";
import type { Awareness } from "./awareness.ts";
import type { Codec, Packer } from "./codec.ts";
import type { SwimConfig } from "./config.ts";
import type { Effect, MembershipEventType, Timer } from "./effects.ts";
import { isActive, type MemberRecord, snapshot } from "./member.ts";
import type { MemberTable } from "./membership.ts";
import type { Alive, Dead, Ping } from "./messages.ts";
import type { Rng } from "./rng.ts";
import type { CoreStats } from "./stats.ts";
import { acceptsCrc } from "./versions.ts";

/** Collects the effects one input produces; the state machine drains it after each input. */
export class Outbox {
  #effects: Effect[] = [];
  /** Decides whether an event reaches the application (flap damping, protocol.md §21). */
  gate: ((type: MembershipEventType, m: MemberRecord) => boolean) | null = null;

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
    if (this.gate && !this.gate(type, m)) return;
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
  /** The latest token of every armed timer. */
  readonly timers: TimerTokens;
  /** Is an IP (raw bytes) inside `allowedCidrs`? */
  readonly allowed: (ip: Uint8Array) => boolean;
  /** True once we started leaving. */
  leaving: boolean;
  /** Last sequence number used (probes and relays share it). */
  seq: number;
}

/**
 * Timer tokens, the one way a stale timer (or a stale answer to a `resolve` effect) is
 * recognised. Arming a timer mints a token (counted per kind) and makes it the latest for the
 * timer's key — its kind, plus the member for a suspicion or the sequence number for a relay.
 * A firing is current only while its token is still the latest; re-arming or disarming the
 * key makes earlier firings stale.
 */
export class TimerTokens {
  readonly #latest = new Map<string, number>();
  readonly #minted = new Map<Timer["kind"] | "resolve", number>();

  /** A fresh token for `kind` (keyed `key`), superseding earlier ones under that key. */
  arm(kind: Timer["kind"] | "resolve", key: string = kind): number {
    const token = (this.#minted.get(kind) ?? 0) + 1;
    this.#minted.set(kind, token);
    this.#latest.set(key, token);
    return token;
  }

  /** Make every pending firing under `key` stale. */
  disarm(key: string): void {
    this.#latest.delete(key);
  }

  /** Is `timer` the latest armed under its key? */
  isCurrent(timer: Timer): boolean {
    return this.isLatest(timerKey(timer), timer.token);
  }

  /** Is `token` the latest armed under `key`? */
  isLatest(key: string, token: number): boolean {
    return this.#latest.get(key) === token;
  }
}

/** The key a timer is armed under. */
export function timerKey(timer: Timer): string {
  switch (timer.kind) {
    case "suspicion":
      return suspicionKey(timer.node);
    case "relayTimeout":
      return relayKey(timer.seqNo);
    case "reclaim":
      return reclaimKey(timer.node);
    case "damping":
      return dampingKey(timer.node);
    default:
      return timer.kind;
  }
}

/** The key of the suspicion timer about `node`. */
export function suspicionKey(node: string): string {
  return `suspicion:${node}`;
}

/** The key of the reclaim timer of `node`'s name. */
export function reclaimKey(node: string): string {
  return `reclaim:${node}`;
}

/** The key of the timer that may end the hold on `node`'s events. */
export function dampingKey(node: string): string {
  return `damping:${node}`;
}

/** The key of the timer of the relay under `seqNo`. */
export function relayKey(seqNo: number): string {
  return `relayTimeout:${seqNo}`;
}

/** The datagram budget: what a packet may carry once the host's own framing is paid. */
export function datagramBudget(cfg: SwimConfig): number {
  return cfg.udpBufferSize - cfg.packetOverhead;
}

/** Frame datagrams to `member` with a CRC (when we send CRCs and it accepts them). */
export function crcFor(ctx: Context, member: MemberRecord | undefined): boolean {
  return ctx.cfg.crcOutgoing && member !== undefined && acceptsCrc(member.vsn);
}

/** A packer for one datagram to `member` (or an address we know no member at). */
export function packerFor(ctx: Context, member: MemberRecord | undefined): Packer {
  return ctx.codec.packer(datagramBudget(ctx.cfg), { crc: crcFor(ctx, member) });
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

/** Do `a` and `b` name the same host and port? */
export function sameAddress(a: PeerAddress, b: PeerAddress): boolean {
  return a.port === b.port && a.host === b.host;
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

/** Encoded alive rumours of member records, per codec (records are immutable). */
const encodedAlives = new WeakMap<Codec, WeakMap<MemberRecord, Uint8Array>>();

/**
 * `aliveRumour(m)` encoded with `ctx.codec`, cached on the record: a table feed encodes the
 * same records again and again, and members that share records share the cache.
 */
export function encodedAlive(ctx: Context, m: MemberRecord): Uint8Array {
  let byRecord = encodedAlives.get(ctx.codec);
  if (!byRecord) encodedAlives.set(ctx.codec, byRecord = new WeakMap());
  let bytes = byRecord.get(m);
  if (!bytes) {
    // A copy of its own: encoded messages are views into shared slabs (wire/alloc.ts).
    bytes = ctx.codec.encode(aliveRumour(m)).slice();
    byRecord.set(m, bytes);
  }
  return bytes;
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
