/**
 * The SWIM state machine: one member's view of the cluster, with no I/O.
 *
 * Inputs are datagrams ({@linkcode Swim.handlePacket}), timer firings
 * ({@linkcode Swim.handleTimer}) and API calls; every input returns the {@linkcode Effect}s the
 * host must perform. Time and randomness are injected, so the same inputs always give the same
 * outputs.
 *
 * Protocol, as memberlist (protocol.md §7–§11):
 * ```
 *  prober                 target        intermediaries (k)
 *    |---- ping(seq) -------->|                 |
 *    |<--- ack(seq) ----------|                 |         success
 *    |   (probeTimeout, no ack)                 |
 *    |---- indirectPing(seq) ------------------>|---- ping ---->|
 *    |<--- ack(seq) / nack(seq) ----------------|<--- ack ------|
 *    |   (next tick, still no ack) => suspect(target), gossiped
 *    |   (suspicion timeout, no refutation) => dead(target), gossiped
 * ```
 *
 * @module
 */

import { bytesToIp, ipToBytes, type PeerAddress, type SeedAddress } from "./address.ts";
import { AntiEntropy } from "./anti_entropy.ts";
import { allowedBy } from "./cidr.ts";
import { Awareness } from "./awareness.ts";
import { type Codec, DecodeError, type DecodeErrorKind } from "./codec.ts";
import { DEFAULT_VSN, META_MAX_SIZE, type SwimConfig } from "./config.ts";
import {
  type Context,
  datagramBudget,
  hasPeers,
  memberAt,
  Outbox,
  safeIp,
  TimerTokens,
} from "./context.ts";
import { EventDamping } from "./damping.ts";
import { Dissemination } from "./dissemination.ts";
import type { Effect, ResolveResult, Timer } from "./effects.ts";
import { FailureDetector } from "./failure_detector.ts";
import { type Member, type MemberRecord, snapshot } from "./member.ts";
import { MemberTable, type SharedRecords } from "./membership.ts";
import type { Message, NodeState, PushPull, StreamReply, StreamRequest } from "./messages.ts";
import { randomInt, type Rng } from "./rng.ts";
import { Rumours } from "./rumours.ts";
import { type CoreStats, newCoreStats } from "./stats.ts";
import { impossibleRange } from "./versions.ts";

/** Who this node is. */
export interface Identity {
  /** Unique name in the cluster. */
  readonly name: string;
  /** Advertised IP literal (what others use to reach us). */
  readonly host: string;
  /** Advertised port. */
  readonly port: number;
  /** Initial metadata (≤ 512 bytes). */
  readonly meta?: Uint8Array;
  /** Initial incarnation (default 1). */
  readonly incarnation?: number;
}

/** Everything the state machine needs from its host. */
export interface SwimOptions {
  /** This node. */
  readonly identity: Identity;
  /** Protocol settings. */
  readonly config: SwimConfig;
  /** Wire format. */
  readonly codec: Codec;
  /** Current time in milliseconds (any epoch, monotonic). */
  readonly now: () => number;
  /** Randomness. */
  readonly rng: Rng;
  /**
   * The host can perform stream effects (`pushPull`, `streamPing`, `userStream`). Without
   * streams, full-state sync runs over datagrams and there is no fallback probe.
   */
  readonly streams?: boolean;
  /**
   * Members already known at start, held as alive at their incarnations: no events, no
   * gossip, nothing sent (a simulator's warm start of a converged cluster). Entries that are
   * not alive (`state` ≠ 0) or name this node are skipped; byte fields are kept, not copied.
   */
  readonly knownMembers?: readonly NodeState[];
  /**
   * The `Vsn` we announce, `[PMin, PMax, PCur, DMin, DMax, DCur]` (default
   * {@linkcode DEFAULT_VSN}). A layer on top (serf) sets its delegate versions here; memberlist
   * refuses a push/pull from a member whose delegate versions clash with the cluster's.
   */
  readonly vsn?: Uint8Array;
  /**
   * The user state sent with every push/pull (memberlist's delegate `LocalState(join)`;
   * `join` is true for a joiner's exchange). Without it the user state is empty. A provider
   * that throws sends none. A peer's non-empty user state comes back as a `remoteState`
   * effect once its push/pull merged.
   */
  readonly localState?: (join: boolean) => Uint8Array;
  /**
   * Records shared with the other state machines given the same instance, wherever their
   * views agree (a simulator's members; see {@linkcode SharedRecords}). Default: none.
   */
  readonly sharedRecords?: SharedRecords;
}

/** The acceptor's side of a stream exchange: what to write back, and what to do. */
export interface StreamAnswer {
  /** The reply to write, or `null` to close without one (a user message, a ping for another). */
  readonly reply: StreamReply | null;
  /** Effects to perform, as for any input. */
  readonly effects: Effect[];
}

/** Thrown for an API call the node cannot honour in its current state. */
export class SwimStateError extends Error {
  /** Create the error. */
  constructor(message: string) {
    super(message);
    this.name = "SwimStateError";
  }
}

/**
 * The SWIM member state machine. It owns the shared {@linkcode Context} and routes each input
 * to the part that handles it: {@linkcode FailureDetector} (probes), {@linkcode Rumours}
 * (membership rules and suspicion), {@linkcode Dissemination} (gossip) and
 * {@linkcode AntiEntropy} (join, sync, re-announce). Every input returns its effects.
 */
export class Swim {
  readonly #ctx: Context;
  readonly #diss: Dissemination;
  readonly #rumours: Rumours;
  readonly #fd: FailureDetector;
  readonly #ae: AntiEntropy;
  readonly #damping: EventDamping | null;
  #started = false;

  /** Create the state machine; call {@linkcode Swim.start} to begin probing. */
  constructor(options: SwimOptions) {
    const { identity, config, codec, now, rng } = options;
    if (!identity.name) throw new SwimStateError("a node needs a non-empty name");
    checkMeta(identity.meta);
    const addr = ipToBytes(identity.host);
    const self: MemberRecord = {
      name: identity.name,
      addr,
      host: bytesToIp(addr),
      port: identity.port,
      meta: identity.meta && identity.meta.length ? identity.meta.slice() : null,
      vsn: checkVsn(options.vsn ?? DEFAULT_VSN),
      incarnation: Math.max(1, identity.incarnation ?? 1) >>> 0,
      state: "alive",
    };
    const table = new MemberTable(identity.name, rng, options.sharedRecords);
    table.add(self);
    if (options.knownMembers) table.addAll(knownRecords(options.knownMembers));
    this.#ctx = {
      cfg: config,
      codec,
      now,
      rng,
      self,
      table,
      stats: newCoreStats(),
      awareness: new Awareness(config.awarenessMaxMultiplier),
      out: new Outbox(),
      streams: options.streams ?? false,
      timers: new TimerTokens(),
      allowed: allowedBy(config.allowedCidrs),
      leaving: false,
      seq: 0,
    };
    this.#diss = new Dissemination(this.#ctx);
    this.#rumours = new Rumours(this.#ctx, this.#diss, () => this.#ae.onNewMember());
    this.#fd = new FailureDetector(this.#ctx, this.#diss, this.#rumours);
    this.#ae = new AntiEntropy(this.#ctx, this.#rumours, options.localState);
    this.#damping = config.flapDamping ? new EventDamping(this.#ctx, config.flapDamping) : null;
  }

  // MARK: API

  /** Counters for metrics. */
  get stats(): CoreStats {
    return this.#ctx.stats;
  }

  /** This node's name. */
  get name(): string {
    return this.#ctx.self.name;
  }

  /** True once {@linkcode Swim.leave} was called. */
  get leaving(): boolean {
    return this.#ctx.leaving;
  }

  /**
   * True once the join received a full state: a push/pull reply, or an ack to an announce
   * (a shoal seed acks only with its table). True from the start without seeds.
   */
  get joined(): boolean {
    return this.#ae.joined;
  }

  /** Rumours waiting to be gossiped. */
  get queueDepth(): number {
    return this.#diss.queueDepth;
  }

  /** Local health score (Lifeguard awareness): 0 is healthy, up to `awarenessMaxMultiplier − 1`. */
  get healthScore(): number {
    return this.#ctx.awareness.score;
  }

  /** Snapshot of the local member. */
  localMember(): Member {
    return snapshot(this.#ctx.self);
  }

  /** Snapshots of every known member, self included, in any state. */
  members(): Member[] {
    return [...this.#ctx.table.values()].map(snapshot);
  }

  /** Snapshot of one member. */
  member(name: string): Member | undefined {
    const m = this.#ctx.table.get(name);
    return m ? snapshot(m) : undefined;
  }

  /** Start probing, gossip and anti-entropy (each after a random delay, as memberlist). */
  start(): Effect[] {
    if (!this.#started) {
      this.#started = true;
      const { cfg, rng } = this.#ctx;
      this.#fd.start(randomInt(rng, cfg.probeInterval));
      this.#diss.start(randomInt(rng, cfg.gossipInterval));
      this.#ae.start();
    }
    return this.#drain();
  }

  /**
   * Announce ourselves to `seeds` (and push/pull with them when the host has streams).
   * Retries with jittered backoff until a full state arrives (see {@linkcode Swim.joined}).
   * A seed may be a DNS name: every attempt (and re-announce) then emits a `resolve` effect
   * and goes on to the addresses given to {@linkcode Swim.handleResolved}.
   */
  join(seeds: readonly SeedAddress[]): Effect[] {
    this.#ae.join(seeds);
    return this.#drain();
  }

  /**
   * The answer to a `resolve` effect (one result per name, addresses or an error): the join
   * attempt or re-announce that asked announces to the fresh addresses. Stale answers (not
   * the latest ask's `token`) are ignored.
   */
  handleResolved(token: number, results: readonly ResolveResult[]): Effect[] {
    this.#ae.onResolved(token, results);
    return this.#drain();
  }

  /**
   * A stream request arrived from `from` (protocol.md §6): a push/pull is answered with our
   * state as it is now and then merged (refused whole if protocol versions clash, §7.6); a
   * ping for us is acked; a user message is delivered.
   */
  handleStreamRequest(request: StreamRequest, from: PeerAddress): StreamAnswer {
    let reply: StreamReply | null = null;
    switch (request.type) {
      case "pushPull":
        reply = this.#ae.pushPull(request.join);
        this.#merge(request, false);
        break;
      case "ping":
        reply = this.#fd.answerPing(request);
        break;
      case "user":
        this.#deliverUser(request.payload, from);
        break;
    }
    return { reply, effects: this.#drain() };
  }

  /** The reply to a `pushPull` effect: merge the peer's state (protocol.md §7.6). */
  handlePushPullReply(reply: PushPull): Effect[] {
    this.#merge(reply, reply.join);
    return this.#drain();
  }

  /** Merge a push/pull's states, then hand its user state (if any) to the host. */
  #merge(pp: PushPull, tableForUs: boolean): void {
    if (!this.#ae.mergeRemoteState(pp.states, tableForUs) || pp.userState.length === 0) return;
    this.#ctx.out.push({ type: "remoteState", state: pp.userState, join: pp.join });
  }

  /** The outcome of a `streamPing` effect: `ok` when the ack arrived in time. */
  handleStreamPingResult(seqNo: number, ok: boolean): Effect[] {
    this.#fd.handleStreamPingResult(seqNo, ok);
    return this.#drain();
  }

  /**
   * Send `payload` to one member as a user message: best effort over a datagram (it must
   * fit one), or `reliable` over a stream when the host has streams.
   */
  sendUser(to: PeerAddress, payload: Uint8Array, reliable = false): Effect[] {
    const ctx = this.#ctx;
    if (reliable) {
      if (!ctx.streams) throw new SwimStateError("reliable messages need a stream transport");
      ctx.out.push({ type: "userStream", to, payload });
      return this.#drain();
    }
    const room = datagramBudget(ctx.cfg) - 1;
    if (payload.length > room) {
      throw new RangeError(
        `a best-effort message holds at most ${room} bytes, got ${payload.length}`,
      );
    }
    this.#diss.sendTo(to, { type: "user", payload }, true, memberAt(ctx, to));
    return this.#drain();
  }

  /**
   * Gossip `payload` to the cluster from a reserved share of every packet. As memberlist's
   * delegate broadcasts, only this member transmits it (a bounded number of times).
   */
  broadcast(payload: Uint8Array): Effect[] {
    this.#diss.broadcast(payload);
    return this.#drain();
  }

  /**
   * With `confirmDeaths`: declare a member held as `unreachable` dead. `confirmed` is false
   * when it is not unreachable.
   */
  confirmDead(name: string): { confirmed: boolean; effects: Effect[] } {
    const confirmed = this.#rumours.confirmDead(name);
    return { confirmed, effects: this.#drain() };
  }

  /** Datagram received from `from`. Undecodable input is counted and dropped. */
  handlePacket(bytes: Uint8Array, from: PeerAddress): Effect[] {
    const ctx = this.#ctx;
    ctx.stats.packetsIn++;
    if (ctx.cfg.allowedCidrs !== undefined && !ctx.allowed(ipBytesOf(from.host))) {
      ctx.stats.packetsRefused++;
      return this.#drain();
    }
    let messages: Message[];
    try {
      messages = ctx.codec.decodePacket(bytes);
    } catch (err) {
      const kind = err instanceof DecodeError ? err.kind : "bad-msgpack";
      ctx.stats.decodeErrors[kind] = (ctx.stats.decodeErrors[kind] ?? 0) + 1;
      return this.#drain();
    }
    ctx.stats.messagesIn += messages.length;
    // Rumours first, so that a refutation rides on the ack we send for a ping in the same packet.
    for (const m of messages) if (isRumour(m)) this.#dispatch(m, from);
    for (const m of messages) if (!isRumour(m)) this.#dispatch(m, from);
    return this.#drain();
  }

  /** Count a datagram the host dropped before decoding (bad label, failed decryption). */
  recordDropped(kind: DecodeErrorKind): void {
    this.#ctx.stats.packetsIn++;
    this.#ctx.stats.decodeErrors[kind] = (this.#ctx.stats.decodeErrors[kind] ?? 0) + 1;
  }

  /** A timer scheduled earlier has fired. Stale timers (see `TimerTokens`) are ignored. */
  handleTimer(timer: Timer): Effect[] {
    if (!this.#ctx.timers.isCurrent(timer)) return this.#drain();
    switch (timer.kind) {
      case "probe":
        this.#fd.onProbeTick(timer.token);
        break;
      case "probeTimeout":
        this.#fd.onProbeTimeout();
        break;
      case "relayTimeout":
        this.#fd.onRelayTimeout(timer.seqNo);
        break;
      case "gossip":
        this.#diss.onGossipTick(timer.token);
        break;
      case "suspicion":
        this.#rumours.onSuspicionTimeout(timer.node);
        break;
      case "reclaim":
        this.#rumours.onReclaim(timer.node);
        break;
      case "join":
        this.#ae.onJoinTimer(timer.token, timer.attempt);
        break;
      case "sync":
        this.#ae.onSyncTimer(timer.token);
        break;
      case "churnSync":
        this.#ae.onChurnSyncTimer(timer.token);
        break;
      case "reannounce":
        this.#ae.onReannounce(timer.token);
        break;
      case "damping":
        this.#damping?.onTimer(timer.node);
        break;
    }
    return this.#drain();
  }

  /** Replace our metadata: bumps our incarnation and gossips it. Settles as `"meta"`. */
  updateMeta(meta: Uint8Array): Effect[] {
    const ctx = this.#ctx;
    if (ctx.leaving) throw new SwimStateError("cannot update metadata after leave()");
    checkMeta(meta);
    const incarnation = this.#rumours.updateMeta(meta.length ? meta.slice() : null);
    if (!hasPeers(ctx)) ctx.out.settled("meta", incarnation);
    return this.#drain();
  }

  /** Leave gracefully: gossip `dead(self, from self)`. Settles as `"leave"`. */
  leave(): Effect[] {
    const ctx = this.#ctx;
    if (ctx.leaving) return this.#drain();
    ctx.leaving = true;
    const self = ctx.self;
    const peers = hasPeers(ctx);
    this.#rumours.onDead({
      type: "dead",
      incarnation: self.incarnation,
      node: self.name,
      from: self.name,
    });
    if (!peers) ctx.out.settled("leave", self.incarnation);
    return this.#drain();
  }

  // MARK: dispatch

  #dispatch(m: Message, from: PeerAddress): void {
    switch (m.type) {
      case "ping":
        // An announce is acked only once our table went out to it (see AntiEntropy.join).
        if (!this.#ae.isAnnounce(m) || this.#ae.onAnnounce(m, from)) this.#fd.onPing(m, from);
        return;
      case "indirectPing":
        return this.#fd.onIndirectPing(m, from);
      case "ack": {
        const announce = this.#ae.onAck(m.seqNo);
        if (announce) this.#fd.onPing(announce.ping, announce.from);
        const probed = this.#fd.onAck(m, from);
        if (probed) this.#ae.prove(probed);
        return;
      }
      case "nack":
        return this.#fd.onNack(m);
      case "alive":
        return this.#rumours.onAlive(m, from, this.#ae.isNews(m, from));
      case "suspect":
        return this.#rumours.onSuspect(m, from);
      case "dead":
        return this.#rumours.onDead(m, from);
      case "user":
        return this.#deliverUser(m.payload, from);
    }
  }

  #deliverUser(payload: Uint8Array, from: PeerAddress): void {
    this.#ctx.stats.userMessages++;
    this.#ctx.out.push({ type: "user", payload, from });
  }

  #drain(): Effect[] {
    return this.#ctx.out.drain();
  }
}

/** memberlist's pushPullScale (protocol.md §12), re-exported where the state machine is. */
export { syncInterval } from "./anti_entropy.ts";

function isRumour(m: Message): boolean {
  return m.type === "alive" || m.type === "suspect" || m.type === "dead";
}

/** Host text of `knownMembers` addresses, shared by every node given the same array. */
const knownHosts = new WeakMap<Uint8Array, string>();

function knownHost(addr: Uint8Array): string {
  let host = knownHosts.get(addr);
  if (host === undefined) knownHosts.set(addr, host = safeIp(addr));
  return host;
}

/** `knownMembers` as records, one list per array of states (never changed, so shared). */
const knownLists = new WeakMap<readonly NodeState[], MemberRecord[]>();

/** `knownMembers` as records: the alive entries (the table skips ourselves). */
function knownRecords(states: readonly NodeState[]): MemberRecord[] {
  const cached = knownLists.get(states);
  if (cached) return cached;
  const known: MemberRecord[] = [];
  knownLists.set(states, known);
  for (const k of states) {
    const host = knownHost(k.addr);
    if (k.state !== 0 || !host) continue;
    known.push({
      name: k.name,
      addr: k.addr,
      host,
      port: k.port,
      meta: k.meta,
      vsn: k.vsn,
      incarnation: k.incarnation,
      state: "alive",
    });
  }
  return known;
}

/** A `Vsn` we can announce: six bytes with a possible protocol range. */
function checkVsn(vsn: Uint8Array): Uint8Array {
  if (vsn.length !== 6 || impossibleRange(vsn) || vsn[3] > vsn[4]) {
    throw new RangeError(`vsn must be 6 bytes with valid ranges, got [${[...vsn].join(", ")}]`);
  }
  return vsn.slice();
}

function checkMeta(meta: Uint8Array | undefined): void {
  if (meta && meta.length > META_MAX_SIZE) {
    throw new RangeError(`metadata is ${meta.length} bytes; the limit is ${META_MAX_SIZE}`);
  }
}

/** The raw bytes of an IP literal, empty (never allowed) when it is not one. */
function ipBytesOf(host: string): Uint8Array {
  try {
    return ipToBytes(host);
  } catch {
    return new Uint8Array(0);
  }
}
