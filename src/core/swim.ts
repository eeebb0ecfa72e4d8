/**
 * The SWIM state machine: one member's view of the cluster, with no I/O.
 *
 * Inputs are datagrams ({@linkcode Swim.handlePacket}), timer firings
 * ({@linkcode Swim.handleTimer}) and API calls; every input returns the {@linkcode Effect}s the
 * host must perform. Time and randomness are injected, so the same inputs always give the same
 * outputs.
 *
 * Protocol, as memberlist (spec §7–§11):
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

import { bytesToIp, ipToBytes, type PeerAddress } from "./address.ts";
import { BroadcastQueue, retransmitLimit } from "./broadcasts.ts";
import { type Codec, DecodeError, type DecodeErrorKind } from "./codec.ts";
import { DEFAULT_VSN, META_MAX_SIZE, type SwimConfig } from "./config.ts";
import type { Effect, MembershipEventType, Timer } from "./effects.ts";
import {
  bytesEqual,
  isActive,
  type Member,
  type MemberRecord,
  snapshot,
  STATE_CODE,
} from "./member.ts";
import { MemberTable } from "./membership.ts";
import type {
  Ack,
  Alive,
  Dead,
  IndirectPing,
  Message,
  Nack,
  NodeState,
  Ping,
  Suspect,
} from "./messages.ts";
import { randomInt, type Rng, shuffle } from "./rng.ts";
import { type CoreStats, newCoreStats, observeRtt } from "./stats.ts";
import { Suspicion, suspicionBounds } from "./suspicion.ts";
import { Awareness } from "./awareness.ts";

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
}

/** Thrown for an API call the node cannot honour in its current state. */
export class SwimStateError extends Error {
  /** Create the error. */
  constructor(message: string) {
    super(message);
    this.name = "SwimStateError";
  }
}

interface Probe {
  readonly seqNo: number;
  readonly target: string;
  readonly startedAt: number;
  acked: boolean;
  nacks: number;
  expectedNacks: number;
  /** The stream fallback probe got its ack. */
  fallbackAcked: boolean;
}

interface Relay {
  readonly requesterSeq: number;
  readonly requester: PeerAddress;
  readonly nack: boolean;
}

const MAX_RELAYS = 1024;
const MAX_FEED_PACKETS = 64;
const FEED_WINDOW = 1000;
const MAX_FEEDS_PER_WINDOW = 16;
const MAX_COMPOUND_PARTS = 127;

/** The SWIM member state machine. */
export class Swim {
  readonly #cfg: SwimConfig;
  readonly #codec: Codec;
  readonly #now: () => number;
  readonly #rng: Rng;
  readonly #self: MemberRecord;
  readonly #table: MemberTable;
  readonly #queue = new BroadcastQueue();
  /** Application broadcasts, kept apart so membership gossip cannot starve them. */
  readonly #userQueue = new BroadcastQueue();
  #userBroadcastId = 0;
  readonly #streams: boolean;
  readonly #suspicions = new Map<string, Suspicion>();
  readonly #relays = new Map<number, Relay>();
  #out: Effect[] = [];
  #probe: Probe | undefined;
  #seq = 0;
  #probeToken = 0;
  #gossipToken = 0;
  #joinToken = 0;
  #syncToken = 0;
  #feedTimes: number[] = [];
  #reannounceToken = 0;
  #reassertedAt = -Infinity;
  /** Sender of the datagram being handled. */
  #packetFrom: PeerAddress | undefined;
  /** member name → when we last corrected its stale view of itself. */
  readonly #corrected = new Map<string, number>();
  /** "member@sender" → when we last answered that sender's stale accusation. */
  readonly #answered = new Map<string, number>();
  readonly #awareness: Awareness;
  #suspicionToken = 0;
  #seeds: PeerAddress[] = [];
  #started = false;
  #leaving = false;
  /** Counters for metrics. */
  readonly stats: CoreStats = newCoreStats();

  /** Create the state machine; call {@linkcode Swim.start} to begin probing. */
  constructor(options: SwimOptions) {
    const { identity, config, codec, now, rng } = options;
    this.#streams = options.streams ?? false;
    if (!identity.name) throw new SwimStateError("a node needs a non-empty name");
    checkMeta(identity.meta);
    this.#cfg = config;
    this.#codec = codec;
    this.#now = now;
    this.#rng = rng;
    const addr = ipToBytes(identity.host);
    this.#self = {
      name: identity.name,
      addr,
      host: bytesToIp(addr),
      port: identity.port,
      meta: identity.meta && identity.meta.length ? identity.meta.slice() : null,
      vsn: DEFAULT_VSN,
      incarnation: Math.max(1, identity.incarnation ?? 1) >>> 0,
      state: "alive",
      stateChangedAt: now(),
    };
    this.#awareness = new Awareness(config.awarenessMaxMultiplier);
    this.#table = new MemberTable(identity.name, rng);
    this.#table.add(this.#self);
    if (options.knownMembers) {
      const at = now();
      const known: MemberRecord[] = [];
      for (const k of options.knownMembers) {
        const host = knownHost(k.addr);
        if (k.state !== 0 || k.name === identity.name || !host) continue;
        known.push({
          name: k.name,
          addr: k.addr,
          host,
          port: k.port,
          meta: k.meta,
          vsn: k.vsn,
          incarnation: k.incarnation,
          state: "alive",
          stateChangedAt: at,
        });
      }
      this.#table.addAll(known);
    }
  }

  // MARK: API

  /** This node's name. */
  get name(): string {
    return this.#self.name;
  }

  /** True once {@linkcode Swim.leave} was called. */
  get leaving(): boolean {
    return this.#leaving;
  }

  /** Rumours waiting to be gossiped. */
  get queueDepth(): number {
    return this.#queue.size;
  }

  /** Local health score (Lifeguard awareness): 0 is healthy, up to `awarenessMaxMultiplier − 1`. */
  get healthScore(): number {
    return this.#awareness.score;
  }

  /**
   * Confirm the death of a member held as `unreachable` (with `confirmDeaths`), declaring it
   * dead and gossiping that. Returns false if the member is not unreachable.
   */
  confirmDead(name: string): { confirmed: boolean; effects: Effect[] } {
    const m = this.#table.get(name);
    if (!m || m.state !== "unreachable") return { confirmed: false, effects: this.#drain() };
    m.state = "suspect"; // dead outranks suspect at the same incarnation
    this.stats.deadDeclared++;
    this.#onDead({ type: "dead", incarnation: m.incarnation, node: name, from: this.#self.name });
    return { confirmed: true, effects: this.#drain() };
  }

  /** Snapshot of the local member. */
  localMember(): Member {
    return snapshot(this.#self);
  }

  /** Snapshots of every known member, self included, in any state. */
  members(): Member[] {
    return [...this.#table.values()].map(snapshot);
  }

  /** Snapshot of one member. */
  member(name: string): Member | undefined {
    const m = this.#table.get(name);
    return m ? snapshot(m) : undefined;
  }

  /** Start the probe and gossip loops (after a random delay each, as memberlist). */
  start(): Effect[] {
    if (this.#started) return this.#drain();
    this.#started = true;
    const cfg = this.#cfg;
    this.#schedule(
      { kind: "probe", token: ++this.#probeToken },
      randomInt(this.#rng, cfg.probeInterval),
    );
    this.#schedule(
      { kind: "gossip", token: ++this.#gossipToken },
      randomInt(this.#rng, cfg.gossipInterval),
    );
    if (cfg.pushPullInterval > 0) {
      this.#schedule(
        { kind: "sync", token: ++this.#syncToken },
        randomInt(this.#rng, cfg.pushPullInterval),
      );
    }
    if (cfg.reannounceInterval > 0) {
      this.#schedule(
        { kind: "reannounce", token: ++this.#reannounceToken },
        cfg.reannounceInterval + randomInt(this.#rng, cfg.reannounceInterval),
      );
    }
    return this.#drain();
  }

  /**
   * Announce ourselves to `seeds` (UDP alive). Retries with backoff while no other member is
   * known. Everyone who learns of us answers with their own alive, so we learn the cluster.
   */
  join(seeds: readonly PeerAddress[]): Effect[] {
    this.#seeds = [...seeds];
    if (this.#seeds.length > 0) this.#announce(++this.#joinToken, 0);
    if (this.#streams) {
      for (const to of this.#seeds) this.#out.push({ type: "pushPull", to, join: true });
    }
    return this.#drain();
  }

  /**
   * Our whole table, ourselves included, for a full-state exchange (push/pull, spec §6.4).
   * Addresses, metadata and versions are relayed exactly as announced.
   */
  localState(): NodeState[] {
    const out: NodeState[] = [];
    for (const m of this.#table.values()) {
      out.push({
        name: m.name,
        addr: m.addr,
        port: m.port,
        meta: m.meta,
        incarnation: m.incarnation,
        state: STATE_CODE[m.state] as 0 | 1 | 2 | 3,
        vsn: m.vsn,
      });
    }
    return out;
  }

  /**
   * Merge a peer's full state (spec §7.6): alive entries are alive rumours, left entries
   * leave rumours, suspect and dead entries only make the member suspect here. Refused
   * whole (and counted) if the protocol versions are incompatible.
   */
  mergeRemoteState(states: readonly NodeState[]): Effect[] {
    if (!compatibleVersions(states, this.#table.values())) {
      this.stats.mergesRejected++;
      return this.#drain();
    }
    this.stats.merges++;
    for (const s of states) {
      if (s.state === 0) {
        this.#onAlive({
          type: "alive",
          incarnation: s.incarnation,
          node: s.name,
          addr: s.addr,
          port: s.port,
          meta: s.meta,
          vsn: s.vsn,
        });
      } else if (s.state === 3) {
        this.#onDead({ type: "dead", incarnation: s.incarnation, node: s.name, from: s.name });
      } else {
        this.#onSuspect({
          type: "suspect",
          incarnation: s.incarnation,
          node: s.name,
          from: this.#self.name,
        });
      }
    }
    return this.#drain();
  }

  /** The outcome of a `streamPing` effect: `ok` when the ack arrived in time. */
  handleStreamPingResult(seqNo: number, ok: boolean): Effect[] {
    const probe = this.#probe;
    if (ok && probe && probe.seqNo === seqNo) probe.fallbackAcked = true;
    return this.#drain();
  }

  /**
   * Send `payload` to one member as a user message: best effort over a datagram (it must
   * fit one), or `reliable` over a stream when the host has streams.
   */
  sendUser(to: PeerAddress, payload: Uint8Array, reliable = false): Effect[] {
    if (reliable) {
      if (!this.#streams) throw new SwimStateError("reliable messages need a stream transport");
      this.#out.push({ type: "userStream", to, payload });
      return this.#drain();
    }
    const room = this.#cfg.udpBufferSize - this.#cfg.packetOverhead - 1;
    if (payload.length > room) {
      throw new RangeError(
        `a best-effort message holds at most ${room} bytes, got ${payload.length}`,
      );
    }
    this.#sendTo(to, { type: "user", payload }, true, this.#memberAt(to));
    return this.#drain();
  }

  /**
   * Gossip `payload` to the cluster, piggy-backed like membership rumours but from a share of
   * every packet reserved for it. As memberlist's delegate broadcasts, it is sent
   * `retransmitMult · ceil(log10(n + 1))` times by this member only; receivers do not relay.
   */
  broadcast(payload: Uint8Array): Effect[] {
    const room = this.#cfg.udpBufferSize - this.#cfg.packetOverhead - 8;
    if (payload.length === 0 || payload.length > room) {
      throw new RangeError(`a broadcast holds 1 to ${room} bytes, got ${payload.length}`);
    }
    const bytes = this.#codec.encode({ type: "user", payload });
    this.#userQueue.enqueue(`u${this.#userBroadcastId++}`, bytes);
    return this.#drain();
  }

  /** Datagram received from `from`. Undecodable input is counted and dropped. */
  handlePacket(bytes: Uint8Array, from: PeerAddress): Effect[] {
    this.stats.packetsIn++;
    let messages: Message[];
    try {
      messages = this.#codec.decodePacket(bytes);
    } catch (err) {
      const kind = err instanceof DecodeError ? err.kind : "bad-msgpack";
      this.stats.decodeErrors[kind] = (this.stats.decodeErrors[kind] ?? 0) + 1;
      return this.#drain();
    }
    this.stats.messagesIn += messages.length;
    // Rumours first, so that a refutation rides on the ack we send for a ping in the same packet.
    this.#packetFrom = from;
    for (const m of messages) if (isRumour(m)) this.#dispatch(m, from);
    for (const m of messages) if (!isRumour(m)) this.#dispatch(m, from);
    this.#packetFrom = undefined;
    return this.#drain();
  }

  /** Count a datagram the host dropped before decoding (bad label, failed decryption). */
  recordDropped(kind: DecodeErrorKind): void {
    this.stats.packetsIn++;
    this.stats.decodeErrors[kind] = (this.stats.decodeErrors[kind] ?? 0) + 1;
  }

  /** A timer scheduled earlier has fired. Stale timers are ignored. */
  handleTimer(timer: Timer): Effect[] {
    switch (timer.kind) {
      case "probe":
        if (timer.token === this.#probeToken) this.#onProbeTick();
        break;
      case "probeTimeout":
        this.#onProbeTimeout(timer.seqNo);
        break;
      case "gossip":
        if (timer.token === this.#gossipToken) this.#onGossipTick();
        break;
      case "suspicion":
        this.#onSuspicionTimeout(timer.node, timer.token);
        break;
      case "relayTimeout":
        this.#onRelayTimeout(timer.seqNo);
        break;
      case "join":
        if (timer.token === this.#joinToken) this.#onJoinTimer(timer.attempt);
        break;
      case "sync":
        if (timer.token === this.#syncToken) this.#onSyncTimer();
        break;
      case "reannounce":
        if (timer.token === this.#reannounceToken) this.#onReannounce();
        break;
    }
    return this.#drain();
  }

  /** Replace our metadata: bumps our incarnation and gossips it. Settles as `"meta"`. */
  updateMeta(meta: Uint8Array): Effect[] {
    if (this.#leaving) throw new SwimStateError("cannot update metadata after leave()");
    checkMeta(meta);
    const self = this.#self;
    self.incarnation = (self.incarnation + 1) >>> 0;
    self.meta = meta.length ? meta.slice() : null;
    const inc = self.incarnation;
    this.#gossip(self.name, this.#selfAlive(), () => this.#settled("meta", inc));
    this.#emit("update", self);
    if (!this.#hasPeers()) this.#settled("meta", inc);
    return this.#drain();
  }

  /** Leave gracefully: gossip `dead(self, from self)`. Settles as `"leave"`. */
  leave(): Effect[] {
    if (this.#leaving) return this.#drain();
    this.#leaving = true;
    const self = this.#self;
    const peers = this.#hasPeers();
    this.#onDead({ type: "dead", incarnation: self.incarnation, node: self.name, from: self.name });
    if (!peers) this.#settled("leave", self.incarnation);
    return this.#drain();
  }

  // MARK: dispatch

  #dispatch(m: Message, from: PeerAddress): void {
    switch (m.type) {
      case "ping":
        return this.#onPing(m, from);
      case "indirectPing":
        return this.#onIndirectPing(m, from);
      case "ack":
        return this.#onAck(m);
      case "nack":
        return this.#onNack(m);
      case "alive":
        return this.#onAlive(m);
      case "suspect":
        return this.#onSuspect(m);
      case "dead":
        return this.#onDead(m);
      case "user":
        this.stats.userMessages++;
        this.#out.push({ type: "user", payload: m.payload, from });
        return;
    }
  }

  // MARK: rumours (spec §7) — the only place membership state changes

  #onAlive(a: Alive): void {
    const self = this.#self;
    const isSelf = a.node === self.name;
    if (!a.node) return;
    if (isSelf && this.#leaving) return;
    if (a.vsn.length >= 3 && (a.vsn[0] === 0 || a.vsn[1] === 0 || a.vsn[0] > a.vsn[1])) return;
    let m = this.#table.get(a.node);
    let addressChanged = false;
    if (!m) {
      if (a.incarnation === 0) return;
      m = {
        name: a.node,
        addr: a.addr,
        host: safeIp(a.addr),
        port: a.port,
        meta: a.meta,
        vsn: a.vsn,
        incarnation: 0,
        state: "dead",
        stateChangedAt: this.#now(),
      };
      if (!m.host) return;
      this.#table.add(m);
    } else if (!bytesEqual(m.addr, a.addr) || m.port !== a.port) {
      if (isSelf) {
        // Someone announces our name from elsewhere: out-bid it so our address wins.
        if (a.incarnation >= self.incarnation) this.#refute(a.incarnation);
        return;
      }
      if (!this.#mayMove(m, a)) {
        this.stats.conflicts++;
        this.#emit("conflict", m, { address: safeIp(a.addr), port: a.port });
        return;
      }
      addressChanged = true;
    }
    if (!isSelf && !addressChanged && a.incarnation <= m.incarnation) {
      this.#correct(m, a);
      return;
    }
    if (isSelf && a.incarnation < m.incarnation) return;
    this.#suspicions.delete(a.node);
    if (isSelf) {
      if (
        a.incarnation === self.incarnation && bytesEqual(a.meta, self.meta) &&
        bytesEqual(a.vsn, self.vsn)
      ) return;
      this.#refute(a.incarnation);
      return;
    }
    this.#gossip(a.node, a);
    const wasState = m.state;
    const metaChanged = !bytesEqual(m.meta, a.meta);
    if (addressChanged) {
      m.addr = a.addr;
      m.host = safeIp(a.addr) || m.host;
    }
    m.port = a.port;
    m.meta = a.meta;
    if (a.vsn.length === 6) m.vsn = a.vsn;
    m.incarnation = a.incarnation;
    if (wasState !== "alive") {
      m.state = "alive";
      m.stateChangedAt = this.#now();
    }
    if (wasState === "dead" || wasState === "left") {
      this.#emit("join", m);
      this.#welcome(m);
    } else if (wasState === "suspect" || wasState === "unreachable") {
      this.#emit("alive", m);
      if (metaChanged) this.#emit("update", m);
    } else if (metaChanged) {
      this.#emit("update", m);
    }
  }

  /** May `m` take the address announced in `a` (the configured conflict policy)? */
  #mayMove(m: MemberRecord, a: Alive): boolean {
    if (m.state === "left") return true;
    switch (this.#cfg.conflictPolicy) {
      case "reject":
        return false;
      case "replace-dead":
        return m.state === "dead";
      case "replace":
        return a.incarnation > m.incarnation || m.state === "dead";
    }
  }

  /**
   * An alive that is not news: if it is *older* than what we hold and we hold the member as
   * suspect, dead or left (or alive at a higher incarnation), the sender of that alive — most
   * likely the member itself after a restart — is out of date. Tell the member directly, so
   * it refutes and rejoins at once instead of staying invisible (memberlist#311).
   * Rate-limited to once per probe interval per member.
   */
  #correct(m: MemberRecord, a: Alive): void {
    const stale = a.incarnation < m.incarnation ||
      (a.incarnation === m.incarnation && m.state !== "alive");
    if (!stale || this.#leaving) return;
    // Lagging gossip about a live member is normal; only correct the member's own voice, or a
    // member we believe is down.
    const from = this.#packetFrom;
    const fromMember = from !== undefined && from.port === a.port && from.host === safeIp(a.addr);
    if (m.state === "alive" && !fromMember) return;
    const now = this.#now();
    const last = this.#corrected.get(m.name);
    if (last !== undefined && now - last < this.#cfg.probeInterval) return;
    if (this.#corrected.size > 4096) this.#corrected.clear();
    this.#corrected.set(m.name, now);
    this.stats.corrections++;
    const self = this.#self.name;
    const view: Alive | Suspect | Dead = m.state === "alive"
      ? aliveRumour(m)
      : m.state === "left"
      ? leftRumour(m)
      : m.state === "dead"
      ? { type: "dead", incarnation: m.incarnation, node: m.name, from: self }
      : { type: "suspect", incarnation: m.incarnation, node: m.name, from: self };
    const to = { host: safeIp(a.addr) || m.host, port: a.port };
    this.#sendTo(to, view, true, m);
  }

  #onSuspect(s: Suspect): void {
    const m = this.#table.get(s.node);
    if (m === this.#self && s.incarnation < m.incarnation) return this.#reassert();
    if (m && s.incarnation < m.incarnation) return this.#answerStale(m);
    if (!m || s.incarnation < m.incarnation) return;
    const running = this.#suspicions.get(s.node);
    if (running && m.state === "suspect" && s.incarnation === m.incarnation) {
      if (running.confirm(s.from)) {
        this.#gossip(s.node, s);
        this.#scheduleSuspicion(m.name, running);
      }
      return;
    }
    // A suspicion at a higher incarnation than ours means the member refuted the one we hold
    // (we missed its alive) and was accused again: alive(i+1) and suspect(i+1) both outrank
    // suspect(i), so start over from the newer accusation. memberlist only counts it as a
    // confirmation, which can declare a member dead for an accusation it already refuted.
    const outdated = m.state === "suspect" && s.incarnation > m.incarnation;
    if (m.state !== "alive" && !outdated) return;
    if (m === this.#self) {
      if (!this.#leaving) this.#refute(s.incarnation);
      return;
    }
    this.#gossip(s.node, s);
    m.incarnation = s.incarnation;
    m.state = "suspect";
    m.stateChangedAt = this.#now();
    const full = suspicionBounds(
      this.#table.size,
      this.#cfg.suspicionMult,
      this.#cfg.suspicionMaxTimeoutMult,
      this.#cfg.probeInterval,
    );
    // Without Lifeguard's adaptive suspicion: plain SWIM's fixed timeout.
    const bounds = this.#cfg.lifeguard.suspicion ? full : { min: full.min, max: full.min, k: 0 };
    const suspicion = new Suspicion(++this.#suspicionToken, this.#now(), bounds, s.from);
    this.#suspicions.set(m.name, suspicion);
    this.#scheduleSuspicion(m.name, suspicion);
    if (s.from !== this.#self.name) this.#table.probeSoon(m.name);
    if (!outdated) this.#emit("suspect", m);
  }

  #onDead(d: Dead): void {
    const m = this.#table.get(d.node);
    if (m === this.#self && d.incarnation < m.incarnation) return this.#reassert();
    if (m && d.incarnation < m.incarnation) return this.#answerStale(m);
    if (!m || d.incarnation < m.incarnation) return;
    this.#suspicions.delete(d.node);
    if (m.state === "dead" || m.state === "left") return;
    if (m === this.#self) {
      if (!this.#leaving) {
        this.#refute(d.incarnation);
        return;
      }
      const inc = m.incarnation;
      this.#gossip(d.node, d, () => this.#settled("leave", inc));
    } else {
      this.#gossip(d.node, d);
    }
    m.incarnation = d.incarnation;
    m.state = d.from === d.node ? "left" : "dead";
    m.stateChangedAt = this.#now();
    this.#emit(m.state === "left" ? "leave" : "dead", m);
  }

  /** Someone says we are suspect or dead (or out of date): out-bid them (spec §7.5). */
  #refute(accused: number): void {
    const self = this.#self;
    let inc = (self.incarnation + 1) >>> 0;
    if (accused >= inc) inc = (accused + 1) >>> 0;
    self.incarnation = inc;
    this.stats.refutations++;
    if (this.#cfg.lifeguard.awareness) this.#awareness.apply(1);
    this.#gossip(self.name, this.#selfAlive());
  }

  /**
   * An accusation about an incarnation we already refuted is still going around: our
   * refutation did not reach everyone. Gossip our current alive again (at most once per probe
   * interval), otherwise those who missed it would declare us dead.
   */
  #reassert(): void {
    if (this.#leaving) return;
    const now = this.#now();
    if (now - this.#reassertedAt < this.#cfg.probeInterval) return;
    this.#reassertedAt = now;
    this.stats.reassertions++;
    this.#gossip(this.#self.name, this.#selfAlive());
  }

  /**
   * The sender of this packet gossips an accusation about `m` that `m` has already out-lived:
   * it missed the newer news. Send it what we know (once per probe interval per member), so
   * it does not declare a refuted member dead.
   */
  #answerStale(m: MemberRecord): void {
    const to = this.#packetFrom;
    if (!to || this.#leaving || m.state !== "alive") return;
    const now = this.#now();
    const key = `${m.name}@${to.host}:${to.port}`;
    const last = this.#answered.get(key);
    if (last !== undefined && now - last < this.#cfg.probeInterval) return;
    if (this.#answered.size > 4096) this.#answered.clear();
    this.#answered.set(key, now);
    this.stats.staleAnswered++;
    this.#sendTo(to, aliveRumour(m), true);
  }

  /** A member appeared (or came back): greet it with our alive so it learns of us. */
  #welcome(m: MemberRecord): void {
    if (this.#leaving) return;
    this.#sendTo(m, this.#selfAlive(), true);
  }

  // MARK: failure detection (spec §8)

  #onProbeTick(): void {
    this.#concludeProbe();
    if (this.#leaving) return;
    // The next tick's delay is the current probe period: stretched when our health is poor.
    this.#schedule(
      { kind: "probe", token: this.#probeToken },
      this.#scaled(this.#cfg.probeInterval),
    );
    const target = this.#table.nextProbeTarget((m) => this.#reapable(m));
    if (!target) return;
    const seqNo = this.#nextSeq();
    this.#probe = {
      seqNo,
      target: target.name,
      startedAt: this.#now(),
      acked: false,
      nacks: 0,
      expectedNacks: 0,
      fallbackAcked: false,
    };
    this.stats.probes++;
    const ping = this.#ping(seqNo, target.name);
    if (target.state === "suspect" && this.#cfg.lifeguard.buddy) {
      // Buddy system: let the suspect refute at once, the accusation rides with the ping.
      const accusation: Suspect = {
        type: "suspect",
        incarnation: target.incarnation,
        node: target.name,
        from: this.#self.name,
      };
      const parts = [this.#codec.encode(ping), this.#codec.encode(accusation)];
      this.#send(addressOf(target), this.#codec.frame(parts, { crc: this.#crcFor(target) }));
    } else {
      this.#sendTo(target, ping, true);
    }
    this.#schedule({ kind: "probeTimeout", seqNo }, this.#scaled(this.#cfg.probeTimeout));
  }

  #onProbeTimeout(seqNo: number): void {
    const probe = this.#probe;
    if (!probe || probe.seqNo !== seqNo || probe.acked) return;
    const target = this.#table.get(probe.target);
    if (!target) return;
    const helpers = this.#table.sample(
      this.#cfg.indirectChecks,
      (m) => m.state === "alive" && m !== this.#self && m !== target,
    );
    for (const helper of helpers) {
      const nack = helper.vsn[1] >= 4;
      if (nack) probe.expectedNacks++;
      const req: IndirectPing = {
        type: "indirectPing",
        seqNo,
        target: target.addr,
        port: target.port,
        node: target.name,
        nack,
        sourceAddr: this.#self.addr,
        sourcePort: this.#self.port,
        sourceNode: this.#self.name,
      };
      this.stats.indirectProbes++;
      this.#sendTo(helper, req, true);
    }
    // Meanwhile the same ping over a stream, for members that answer those (spec §8.4): a
    // lossy or filtered datagram path then does not make a healthy member suspect.
    if (this.#streams && this.#cfg.tcpPings && target.vsn[1] >= 3) {
      const deadline = probe.startedAt + this.#scaled(this.#cfg.probeInterval);
      this.#out.push({
        type: "streamPing",
        to: addressOf(target),
        ping: this.#ping(seqNo, target.name),
        timeout: Math.max(1, deadline - this.#now()),
      });
    }
  }

  /** The probe period is over: no ack means the target becomes suspect. */
  #concludeProbe(): void {
    const probe = this.#probe;
    this.#probe = undefined;
    if (!probe || probe.acked) return;
    if (probe.fallbackAcked) {
      // Reachable over a stream but not over datagrams: no suspicion (memberlist warns here).
      this.stats.fallbackAcks++;
      return;
    }
    this.stats.probesFailed++;
    if (this.#cfg.lifeguard.awareness) {
      // Helpers that answered with nacks vouch for our own health; silence counts against it.
      const nacks = this.#cfg.lifeguard.nacks && probe.expectedNacks > 0;
      this.#awareness.apply(nacks ? probe.expectedNacks - probe.nacks : 1);
    }
    const target = this.#table.get(probe.target);
    if (!target || (target.state !== "alive" && target.state !== "suspect")) return;
    if (target.state === "alive") this.stats.suspicionsRaised++;
    this.#onSuspect({
      type: "suspect",
      incarnation: target.incarnation,
      node: target.name,
      from: this.#self.name,
    });
  }

  #onPing(p: Ping, from: PeerAddress): void {
    if (p.node !== "" && p.node !== this.#self.name) {
      this.stats.unexpectedPings++;
      return;
    }
    const to = replyAddress(p, from);
    const member = p.sourceNode ? this.#table.get(p.sourceNode) : undefined;
    const ack: Ack = { type: "ack", seqNo: p.seqNo, payload: null };
    this.#sendTo(to, ack, true, member);
    // A ping to no name is an announce from someone joining or syncing: answer with our table.
    if (p.node === "" && p.sourceNode && p.sourceNode !== this.#self.name) {
      this.#sendFeed(to, member);
    }
  }

  #onIndirectPing(req: IndirectPing, from: PeerAddress): void {
    if (this.#relays.size >= MAX_RELAYS) {
      this.stats.relaysDropped++;
      return;
    }
    const host = safeIp(req.target);
    if (!host) return;
    const seqNo = this.#nextSeq();
    this.#relays.set(seqNo, {
      requesterSeq: req.seqNo,
      requester: replyAddress(req, from),
      nack: req.nack,
    });
    const target = { host, port: req.port || this.#self.port };
    this.#sendTo(target, this.#ping(seqNo, req.node), true, this.#table.get(req.node));
    // Nack a little before our own probe timeout so the nack reaches the requester before its
    // probe period ends (its indirect probes went out one probe timeout into the period).
    this.#schedule({ kind: "relayTimeout", seqNo }, Math.floor(this.#cfg.probeTimeout * 0.8));
  }

  #onAck(ack: Ack): void {
    const probe = this.#probe;
    if (probe && probe.seqNo === ack.seqNo) {
      if (!probe.acked) {
        probe.acked = true;
        this.stats.acksReceived++;
        if (this.#cfg.lifeguard.awareness) this.#awareness.apply(-1);
        this.stats.lastProbeRtt = this.#now() - probe.startedAt;
        observeRtt(this.stats.probeRtt, this.stats.lastProbeRtt);
      }
      return;
    }
    const relay = this.#relays.get(ack.seqNo);
    if (!relay) return;
    this.#relays.delete(ack.seqNo);
    this.#sendTo(relay.requester, { type: "ack", seqNo: relay.requesterSeq, payload: null }, true);
  }

  #onNack(nack: Nack): void {
    const probe = this.#probe;
    if (probe && probe.seqNo === nack.seqNo && !probe.acked) {
      probe.nacks++;
      this.stats.nacksReceived++;
    }
  }

  #onRelayTimeout(seqNo: number): void {
    const relay = this.#relays.get(seqNo);
    if (!relay) return;
    this.#relays.delete(seqNo);
    if (relay.nack) {
      this.#sendTo(relay.requester, { type: "nack", seqNo: relay.requesterSeq }, true);
    }
  }

  // MARK: suspicion (spec §9)

  /**
   * Wake up halfway through what is left of the suspicion (or at its end when that is near),
   * so a long suspicion is re-gossiped a few times before it can turn into a death.
   */
  #scheduleSuspicion(node: string, suspicion: Suspicion): void {
    const remaining = Math.max(0, suspicion.remaining(this.#now()));
    const step = this.#cfg.probeInterval;
    const delay = remaining > 2 * step ? Math.ceil(remaining / 2) : remaining;
    this.#schedule({ kind: "suspicion", node, token: suspicion.token }, delay);
  }

  #onSuspicionTimeout(node: string, token: number): void {
    const suspicion = this.#suspicions.get(node);
    if (!suspicion || suspicion.token !== token) return;
    const m = this.#table.get(node);
    if (!m || m.state !== "suspect") {
      this.#suspicions.delete(node);
      return;
    }
    if (suspicion.remaining(this.#now()) > 0) {
      // Still suspect: re-gossip the accusation. A member that refuted long ago (we missed its
      // alive) will have it re-asserted to us by whoever knows better, before we declare it
      // dead (the memberlist#311 family of stale views).
      this.#gossip(node, {
        type: "suspect",
        incarnation: m.incarnation,
        node,
        from: this.#self.name,
      });
      this.#scheduleSuspicion(node, suspicion);
      return;
    }
    this.#suspicions.delete(node);
    if (this.#cfg.confirmDeaths) {
      // Hold it: the application decides (confirmDead), or the member refutes.
      m.state = "unreachable";
      m.stateChangedAt = this.#now();
      this.#emit("unreachable", m);
      return;
    }
    this.stats.deadDeclared++;
    this.#onDead({ type: "dead", incarnation: m.incarnation, node, from: this.#self.name });
  }

  // MARK: dissemination (spec §11)

  #onGossipTick(): void {
    this.#schedule({ kind: "gossip", token: this.#gossipToken }, this.#cfg.gossipInterval);
    if (this.#queue.size === 0 && this.#userQueue.size === 0) return;
    const now = this.#now();
    const deadWindow = this.#cfg.gossipToTheDeadTime;
    const targets = this.#table.sample(
      this.#cfg.gossipNodes,
      (m) =>
        m !== this.#self &&
        (isActive(m.state) || (m.state === "dead" && now - m.stateChangedAt < deadWindow)),
    );
    for (const target of targets) {
      const crc = this.#crcFor(target);
      const { header, perPart } = this.#framing(crc);
      const room = this.#cfg.udpBufferSize - this.#cfg.packetOverhead - header;
      const parts = this.#rumoursFor(room, perPart, MAX_COMPOUND_PARTS);
      if (parts.length === 0) break;
      this.#send(addressOf(target), this.#codec.frame(parts, { crc }));
    }
  }

  /**
   * Fill `room` bytes of a packet: membership rumours first, but a quarter of the room is held
   * for application broadcasts when any are queued, and they also get whatever is left.
   */
  #rumoursFor(room: number, perPart: number, maxParts: number): Uint8Array[] {
    const limit = this.#retransmitLimit();
    const reserved = this.#userQueue.size > 0 ? Math.floor(room / 4) : 0;
    const own = this.#queue.take(room - reserved, perPart, maxParts, limit);
    if (this.#userQueue.size === 0) return own;
    const used = own.reduce((sum, p) => sum + perPart + p.length, 0);
    const user = this.#userQueue.take(room - used, perPart, maxParts - own.length, limit);
    return own.concat(user);
  }

  #gossip(key: string, rumour: Alive | Suspect | Dead, settle?: () => void): void {
    this.#queue.enqueue(key, this.#codec.encode(rumour), settle);
  }

  #retransmitLimit(): number {
    return retransmitLimit(this.#cfg.retransmitMult, this.#table.size);
  }

  // MARK: join

  #announce(token: number, attempt: number): void {
    for (const seed of this.#seeds) this.#sendAnnounce(seed);
    const delay = Math.min(this.#cfg.joinRetryMax, this.#cfg.probeInterval * 2 ** attempt);
    this.#schedule({ kind: "join", token, attempt: attempt + 1 }, delay);
  }

  /**
   * "Who is there?": a ping addressed to no name plus our alive. Any member answers with an
   * ack, and a shoal member also with a feed of its table (see {@linkcode Swim.#sendFeed}).
   */
  #sendAnnounce(to: PeerAddress, member?: MemberRecord): void {
    const parts = [
      this.#codec.encode(this.#ping(this.#nextSeq(), "")),
      this.#codec.encode(this.#selfAlive()),
    ];
    this.#send(to, this.#codec.frame(parts, { crc: this.#crcFor(member) }));
  }

  /**
   * Anti-entropy over datagrams: send our table to `to` as alive (and left) rumours, packed
   * into as few packets as fit, at most {@linkcode MAX_FEED_PACKETS}. Rate-limited, since it
   * answers a small packet with several large ones.
   */
  #sendFeed(to: PeerAddress, member?: MemberRecord): void {
    const now = this.#now();
    this.#feedTimes = this.#feedTimes.filter((t) => now - t < FEED_WINDOW);
    if (this.#feedTimes.length >= MAX_FEEDS_PER_WINDOW) {
      this.stats.feedsDropped++;
      return;
    }
    this.#feedTimes.push(now);
    const crc = this.#crcFor(member);
    const { header, perPart } = this.#framing(crc);
    const room = this.#cfg.udpBufferSize - this.#cfg.packetOverhead - header;
    const records = [...this.#table.values()].filter((m) => m.state !== "dead");
    shuffle(this.#rng, records);
    const selfIndex = records.indexOf(this.#self);
    if (selfIndex > 0) [records[0], records[selfIndex]] = [records[selfIndex], records[0]];
    let parts: Uint8Array[] = [];
    let used = 0, packets = 0;
    const flush = () => {
      if (parts.length) this.#send(to, this.#codec.frame(parts, { crc }));
      parts = [];
      used = 0;
      packets++;
    };
    for (const m of records) {
      const bytes = this.#codec.encode(m.state === "left" ? leftRumour(m) : aliveRumour(m));
      if (used + perPart + bytes.length > room || parts.length >= MAX_COMPOUND_PARTS) flush();
      if (packets >= MAX_FEED_PACKETS) return;
      parts.push(bytes);
      used += perPart + bytes.length;
    }
    flush();
  }

  #onSyncTimer(): void {
    const interval = syncInterval(this.#cfg.pushPullInterval, this.#table.size);
    this.#schedule({ kind: "sync", token: this.#syncToken }, interval);
    if (this.#leaving) return;
    const [peer] = this.#table.sample(1, (m) => m.state === "alive" && m !== this.#self);
    if (!peer) return;
    if (this.#streams) {
      this.#out.push({ type: "pushPull", to: addressOf(peer), join: false });
      return;
    }
    this.#sendFeed(addressOf(peer), peer);
    this.#sendAnnounce(addressOf(peer), peer);
  }

  /**
   * Partition healing: announce ourselves to every seed we do not currently see as a live
   * member, to one member we hold as dead, and to one live member. Whoever is really there
   * answers with its table, and stale views on either side are corrected (see `#correct`).
   */
  #onReannounce(): void {
    this.#schedule(
      { kind: "reannounce", token: this.#reannounceToken },
      this.#cfg.reannounceInterval,
    );
    if (this.#leaving) return;
    for (const seed of this.#seeds) {
      if (!this.#liveAt(seed)) this.#sendAnnounce(seed);
    }
    const [down] = this.#table.sample(1, (m) => m.state === "dead");
    if (down) this.#sendAnnounce(addressOf(down), down);
    // And pull one live member's table: epidemic gossip can miss a pair of members for good
    // (nobody re-sends a rumour once it is spent); this closes such gaps even without sync.
    const [peer] = this.#table.sample(1, (m) => m.state === "alive" && m !== this.#self);
    if (peer) this.#sendAnnounce(addressOf(peer), peer);
  }

  #onJoinTimer(attempt: number): void {
    if (this.#leaving || this.#hasPeers()) return;
    this.#announce(this.#joinToken, attempt);
  }

  // MARK: helpers

  /** The member at `to`, if we know one (for CRC framing). */
  #memberAt(to: PeerAddress): MemberRecord | undefined {
    for (const m of this.#table.values()) if (m.host === to.host && m.port === to.port) return m;
    return undefined;
  }

  /** Is an active member (self included) at `to`? Stops at the first match, allocates nothing. */
  #liveAt(to: PeerAddress): boolean {
    for (const m of this.#table.values()) {
      if (m.port === to.port && m.host === to.host && isActive(m.state)) return true;
    }
    return false;
  }

  #hasPeers(): boolean {
    for (const m of this.#table.values()) {
      if (m !== this.#self && isActive(m.state)) return true;
    }
    return false;
  }

  #reapable(m: MemberRecord): boolean {
    if (m.state !== "dead" && m.state !== "left") return false;
    if (this.#now() - m.stateChangedAt <= this.#cfg.gossipToTheDeadTime) return false;
    this.#suspicions.delete(m.name);
    return true;
  }

  #selfAlive(): Alive {
    return aliveRumour(this.#self);
  }

  #ping(seqNo: number, node: string): Ping {
    return {
      type: "ping",
      seqNo,
      node,
      sourceAddr: this.#self.addr,
      sourcePort: this.#self.port,
      sourceNode: this.#self.name,
    };
  }

  /** `duration × (health score + 1)` when Lifeguard awareness is on. */
  #scaled(duration: number): number {
    return this.#cfg.lifeguard.awareness ? this.#awareness.scale(duration) : duration;
  }

  #nextSeq(): number {
    this.#seq = (this.#seq + 1) >>> 0;
    return this.#seq;
  }

  #crcFor(member: MemberRecord | undefined): boolean {
    return this.#cfg.crcOutgoing && member !== undefined && member.vsn[1] >= 5;
  }

  /** Fixed bytes of a compound frame, and the extra bytes each part costs. */
  #framing(crc: boolean): { header: number; perPart: number } {
    const two = this.#codec.overhead(2, { crc });
    const perPart = this.#codec.overhead(3, { crc }) - two;
    return { header: two - 2 * perPart, perPart };
  }

  /**
   * Send `message` to a member or address, filling the rest of the datagram with queued
   * rumours (piggy-backing, spec §11.3) without exceeding `udpBufferSize`.
   */
  #sendTo(
    to: MemberRecord | PeerAddress,
    message: Message,
    piggyback: boolean,
    member?: MemberRecord,
  ): void {
    const target = "name" in to ? to : member;
    const address = "name" in to ? addressOf(to) : to;
    const crc = this.#crcFor(target);
    const bytes = this.#codec.encode(message);
    const parts = [bytes];
    if (piggyback && (this.#queue.size > 0 || this.#userQueue.size > 0)) {
      const { header, perPart } = this.#framing(crc);
      const room = this.#cfg.udpBufferSize - this.#cfg.packetOverhead - header - perPart -
        bytes.length;
      parts.push(
        ...this.#rumoursFor(room, perPart, MAX_COMPOUND_PARTS - 1),
      );
    }
    this.#send(address, this.#codec.frame(parts, { crc }));
  }

  #send(to: PeerAddress, bytes: Uint8Array): void {
    this.#out.push({ type: "send", to, bytes });
  }

  #schedule(timer: Timer, delay: number): void {
    this.#out.push({ type: "schedule", timer, delay });
  }

  #emit(
    type: MembershipEventType,
    m: MemberRecord,
    conflict?: { address: string; port: number },
  ): void {
    const event = conflict
      ? { type, member: snapshot(m), conflict }
      : { type, member: snapshot(m) };
    this.#out.push({ type: "event", event });
  }

  #settled(what: "leave" | "meta", incarnation: number): void {
    this.#out.push({ type: "settled", what, incarnation });
  }

  #drain(): Effect[] {
    const out = this.#out;
    this.#out = [];
    return out;
  }
}

/** memberlist's pushPullScale (spec §12): the interval grows with log2(n) beyond 32 members. */
export function syncInterval(interval: number, n: number): number {
  if (n <= 32) return interval;
  return interval * (Math.ceil(Math.log2(n) - Math.log2(32)) + 1);
}

function aliveRumour(m: MemberRecord): Alive {
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

function leftRumour(m: MemberRecord): Dead {
  return { type: "dead", incarnation: m.incarnation, node: m.name, from: m.name };
}

/**
 * memberlist's protocol-version check before a merge (spec §7.6): every entry's current
 * versions must lie within the range all alive members understand.
 */
function compatibleVersions(
  remote: readonly NodeState[],
  local: Iterable<MemberRecord>,
): boolean {
  let pMin = 0, pMax = 255, dMin = 0, dMax = 255;
  const all: { vsn: Uint8Array; alive: boolean }[] = [];
  for (const s of remote) all.push({ vsn: s.vsn, alive: s.state === 0 });
  for (const m of local) all.push({ vsn: m.vsn, alive: m.state === "alive" });
  for (const { vsn, alive } of all) {
    if (!alive || vsn.length < 6) continue;
    pMin = Math.max(pMin, vsn[0]);
    pMax = Math.min(pMax, vsn[1]);
    dMin = Math.max(dMin, vsn[3]);
    dMax = Math.min(dMax, vsn[4]);
  }
  for (const { vsn } of all) {
    const pCur = vsn.length >= 6 ? vsn[2] : 0, dCur = vsn.length >= 6 ? vsn[5] : 0;
    if (pCur < pMin || pCur > pMax || dCur < dMin || dCur > dMax) return false;
  }
  return true;
}

function isRumour(m: Message): boolean {
  return m.type === "alive" || m.type === "suspect" || m.type === "dead";
}

function addressOf(m: MemberRecord): PeerAddress {
  return { host: m.host, port: m.port };
}

function replyAddress(
  m: { sourceAddr?: Uint8Array; sourcePort?: number },
  from: PeerAddress,
): PeerAddress {
  if (m.sourceAddr && m.sourceAddr.length && m.sourcePort) {
    const host = safeIp(m.sourceAddr);
    if (host) return { host, port: m.sourcePort };
  }
  return from;
}

/** Host text of `knownMembers` addresses, shared by every node given the same array. */
const knownHosts = new WeakMap<Uint8Array, string>();

function knownHost(addr: Uint8Array): string {
  let host = knownHosts.get(addr);
  if (host === undefined) knownHosts.set(addr, host = safeIp(addr));
  return host;
}

function safeIp(bytes: Uint8Array): string {
  return bytes.length === 4 || bytes.length === 16 ? bytesToIp(bytes) : "";
}

function checkMeta(meta: Uint8Array | undefined): void {
  if (meta && meta.length > META_MAX_SIZE) {
    throw new RangeError(`metadata is ${meta.length} bytes; the limit is ${META_MAX_SIZE}`);
  }
}
