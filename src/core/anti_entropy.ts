/**
 * Anti-entropy and joining: announcing ourselves to seeds, full-state exchange (push/pull over
 * streams, or table feeds over datagrams), and periodic re-announcement that heals
 * partitions (protocol.md §6.4, §7.6, §12, §13).
 *
 * @module
 */

import { bytesToIp, ipToBytes, type PeerAddress, type SeedAddress } from "./address.ts";
import {
  addressOf,
  aliveRumour,
  type Context,
  encodedAlive,
  leftRumour,
  liveAt,
  nextSeq,
  packerFor,
  pingFrom,
  replyAddress,
  safeIp,
  sameAddress,
} from "./context.ts";
import { type MemberRecord, STATE_CODE, StateCode } from "./member.ts";
import type { ResolveResult } from "./effects.ts";
import type { Alive, NodeState, Ping, PushPull } from "./messages.ts";
import { randomInt, shuffle } from "./rng.ts";
import type { Rumours } from "./rumours.ts";
import { compatibleVersions } from "./versions.ts";

const NO_USER_STATE = new Uint8Array(0);
/** Announces awaiting proof at once, at most (the oldest is forgotten). */
const MAX_CHALLENGES = 64;
/** Proven announcer addresses remembered, at most. */
const MAX_PROVEN = 4096;

/** An announce, where it came from, and where its answers go. */
export interface Announce {
  /** The announce's ping. */
  readonly ping: Ping;
  /** The datagram's sender. */
  readonly from: PeerAddress;
  /** Where the announcer asked to be answered. */
  readonly to: PeerAddress;
}

const MAX_FEED_PACKETS = 64;
const FEED_WINDOW = 1000;
const MAX_FEEDS_PER_WINDOW = 16;
/** Join attempts that go to the seeds alone, before a member learned meanwhile is asked too. */
const SEED_ONLY_ATTEMPTS = 3;
/** Addresses taken from one resolved seed name, at most. */
const MAX_ADDRESSES_PER_NAME = 32;
/** Members new to us since our last sync that make the next one come once joins calm (§12). */
const CHURN_SYNC_JOINS = 16;
/** Probe intervals over which the churn syncs of a calmed burst are spread (§12). */
const CHURN_SYNC_SPREAD = 2;
/** Probe intervals between two churn syncs at least, so churn cannot drive syncs (§12). */
const CHURN_SYNC_GAP = 5;
/** Re-announce intervals after the last new member during which re-announces pull a table (§12). */
const PULL_AFTER_JOINS = 4;
/** Token keys of the pending name resolutions (a join attempt's, a re-announce's). */
const RESOLVE_JOIN = "resolve:join";
const RESOLVE_REANNOUNCE = "resolve:reannounce";

/** Joining, full-state sync and re-announcement. */
export class AntiEntropy {
  readonly #ctx: Context;
  readonly #rumours: Rumours;

  /** Anti-entropy for `ctx`, merging through `rumours`. */
  constructor(ctx: Context, rumours: Rumours, localState?: (join: boolean) => Uint8Array) {
    this.#userState = localState;
    this.#ctx = ctx;
    this.#rumours = rumours;
  }

  /** Start the sync and re-announce timers (after random delays, §12). */
  start(): void {
    const cfg = this.#ctx.cfg;
    if (cfg.pushPullInterval > 0) {
      this.#ctx.out.schedule(
        { kind: "sync", token: this.#ctx.timers.arm("sync") },
        // Spread like the syncs that follow: a member that starts knowing n members (a warm
        // start) must not sync n times faster in its first interval than afterwards.
        randomInt(this.#ctx.rng, syncInterval(cfg.pushPullInterval, this.#ctx.table.size)),
      );
    }
    if (cfg.reannounceInterval > 0) {
      this.#ctx.out.schedule(
        { kind: "reannounce", token: this.#ctx.timers.arm("reannounce") },
        cfg.reannounceInterval + randomInt(this.#ctx.rng, cfg.reannounceInterval),
      );
    }
  }

  /** Is `p` an announce: a ping addressed to no name, from another shoal member? */
  isAnnounce(p: Ping): boolean {
    return p.node === "" && !!p.sourceNode && p.sourceNode !== this.#ctx.self.name;
  }

  /** True once a full state was merged (push/pull) or a seed acked our announce (feed sent). */
  get joined(): boolean {
    return this.#joined;
  }

  /**
   * An ack arrived. If it answers one of our join announces, the seed's feed is on its way. If
   * it answers one of our challenges, the announcer's address is proven: its feed goes out,
   * and the announce is returned, to be acked now.
   */
  onAck(seqNo: number): Announce | undefined {
    if (this.#joinSeqs.has(seqNo)) this.#settleJoin();
    const announce = this.#challenged.get(seqNo);
    if (announce === undefined) return undefined;
    this.#challenged.delete(seqNo);
    this.prove(announce.to);
    return this.#feedFor(announce) ? announce : undefined;
  }

  /**
   * Is an alive that came in a datagram from `from` news to pass on? Not when it is part of a
   * feed answering our join: second-hand, from an address we announced our join to, within a
   * probe interval of that announce (protocol.md §13.1).
   */
  isNews(alive: Alive, from: PeerAddress): boolean {
    if (this.#feedsExpected.size === 0) return true;
    const key = `${from.host}:${from.port}`;
    const until = this.#feedsExpected.get(key);
    if (until === undefined) return true;
    if (this.#ctx.now() > until) {
      this.#feedsExpected.delete(key);
      return true;
    }
    return from.port === alive.port && from.host === safeIp(alive.addr);
  }

  /** Addresses we announced our join to → until when their feed is expected. */
  readonly #feedsExpected = new Map<string, number>();

  /** Something at `address` answered a ping of ours: announces from there need no challenge. */
  prove(address: PeerAddress): void {
    const key = `${address.host}:${address.port}`;
    if (this.#proven.has(key)) return;
    if (this.#proven.size >= MAX_PROVEN) this.#proven.clear();
    this.#proven.set(key, -Infinity);
  }

  /**
   * An announce (protocol.md §13.1). Our table goes only to an address that proved it is the
   * announcer's: the datagram's own source (an unprivileged sender cannot forge it), or an
   * address that acked a ping of ours. An announce asking to be answered elsewhere gets a bare
   * challenge ping there, and the feed follows its ack (see {@linkcode AntiEntropy.onAck}), so
   * a forged `SourceAddr` reflects one small ping, not our table. A proven address gets a feed
   * at most once per probe interval.
   * True when the feed went out now and the announce should be acked.
   */
  onAnnounce(ping: Ping, from: PeerAddress): boolean {
    const announce: Announce = { ping, from, to: replyAddress(ping, from) };
    if (
      sameAddress(announce.to, from) || this.#proven.has(`${announce.to.host}:${announce.to.port}`)
    ) return this.#feedFor(announce);
    const seqNo = 1 + randomInt(this.#ctx.rng, 0xffff_fffe);
    if (this.#challenged.size >= MAX_CHALLENGES) {
      this.#challenged.delete(this.#challenged.keys().next().value!);
    }
    this.#challenged.set(seqNo, announce);
    this.#ctx.stats.challenges++;
    const member = this.#announcer(ping);
    const packer = packerFor(this.#ctx, member);
    packer.add(this.#ctx.codec.encode(pingFrom(this.#ctx.self, seqNo, ping.sourceNode ?? "")));
    this.#ctx.out.send(announce.to, packer.finish());
    return false;
  }

  #announcer(ping: Ping): MemberRecord | undefined {
    return ping.sourceNode ? this.#ctx.table.get(ping.sourceNode) : undefined;
  }

  /** The feed for a proven announce, once per probe interval per address. */
  #feedFor(announce: Announce): boolean {
    const key = `${announce.to.host}:${announce.to.port}`;
    const now = this.#ctx.now();
    if (now - (this.#proven.get(key) ?? -Infinity) < this.#ctx.cfg.probeInterval) {
      this.#ctx.stats.feedsDropped++;
      return false;
    }
    if (!this.sendFeed(announce.to, this.#announcer(announce.ping))) return false;
    this.#proven.set(key, now);
    return true;
  }

  /** Announces waiting for their address to be proven, by challenge sequence number. */
  readonly #challenged = new Map<number, Announce>();

  /** Proven addresses → when we last fed them. */
  readonly #proven = new Map<string, number>();

  #settleJoin(): void {
    this.#joined = true;
    this.#joinSeqs.clear();
  }

  /** A full state arrived (or we have no seeds); false while the join keeps announcing. */
  #joined = true;

  /** Sequence numbers of our join announces still unanswered (bounded). */
  readonly #joinSeqs = new Set<number>();

  #feedTimes: number[] = [];

  #seeds: SeedAddress[] = [];

  /**
   * Announce ourselves to `seeds` (ping to no name + our alive, and a push/pull when the host
   * has streams). The join is done when a full state arrives: a push/pull reply, or an ack to
   * an announce (a shoal seed acks only when it sent its table). Until then it retries with
   * jittered backoff, also through one member learned meanwhile, so a seed too busy to answer
   * every newcomer of a mass join does not leave them with half a view. Named seeds are
   * resolved afresh for every attempt (a `resolve` effect; see `onResolved`).
   */
  join(seeds: readonly SeedAddress[]): void {
    this.#seeds = [...seeds];
    this.#joined = this.#seeds.length === 0;
    if (!this.#joined) this.#attemptJoin(this.#ctx.timers.arm("join"), 0);
  }

  /**
   * A push/pull carrying our whole table as it is now, ourselves included (protocol.md §6.4).
   * Addresses, metadata and versions are relayed exactly as announced.
   */
  pushPull(join: boolean): PushPull {
    return { type: "pushPull", join, states: this.#localState(), userState: this.#user(join) };
  }

  /** The delegate's state for a push/pull (memberlist's `LocalState(join)`), empty without one. */
  #user(join: boolean): Uint8Array {
    if (this.#userState === undefined) return NO_USER_STATE;
    try {
      return this.#userState(join);
    } catch {
      return NO_USER_STATE; // the delegate's fault: the exchange goes on without its state
    }
  }

  readonly #userState: ((join: boolean) => Uint8Array) | undefined;

  #localState(): NodeState[] {
    const out: NodeState[] = [];
    for (const m of this.#ctx.table.values()) {
      out.push({
        name: m.name,
        addr: m.addr,
        port: m.port,
        meta: m.meta,
        incarnation: m.incarnation,
        state: STATE_CODE[m.state],
        vsn: m.vsn,
      });
    }
    return out;
  }

  /**
   * Merge a peer's full state (protocol.md §7.6): alive entries are alive claims, left entries
   * leave claims, suspect and dead entries only make the member suspect here. Refused
   * whole (and counted) if the protocol versions are incompatible. Returns whether it merged.
   * A reply to our join push/pull (`tableForUs`) is news only to us: members new to us are not
   * gossiped on (§13.1).
   */
  mergeRemoteState(states: readonly NodeState[], tableForUs: boolean): boolean {
    if (!compatibleVersions(versionedEntries(states, this.#ctx.table.values()))) {
      this.#ctx.stats.mergesRejected++;
      return false;
    }
    this.#ctx.stats.merges++;
    this.#settleJoin();
    for (const s of states) {
      if (s.state === StateCode.alive) {
        this.#rumours.onAlive(
          {
            type: "alive",
            incarnation: s.incarnation,
            node: s.name,
            addr: s.addr,
            port: s.port,
            meta: s.meta,
            vsn: s.vsn,
          },
          undefined,
          !tableForUs,
        );
      } else if (s.state === StateCode.left) {
        this.#rumours.onDead({
          type: "dead",
          incarnation: s.incarnation,
          node: s.name,
          from: s.name,
        });
      } else {
        this.#rumours.onSuspect({
          type: "suspect",
          incarnation: s.incarnation,
          node: s.name,
          from: this.#ctx.self.name,
        });
      }
    }
    return true;
  }

  #attemptJoin(token: number, attempt: number): void {
    const targets: { to: PeerAddress; member?: MemberRecord }[] = literals(this.#seeds)
      .map((to) => ({ to }));
    if (attempt > 0) this.#ctx.stats.joinRetries++;
    if (attempt >= SEED_ONLY_ATTEMPTS) {
      // The seeds have not answered for a while: ask a member we learned of meanwhile too
      // (its table may be partial, which is why the seeds are tried alone first).
      const [peer] = this.#ctx.table.sample(1, (m) => m.state === "alive" && m !== this.#ctx.self);
      if (peer) targets.push({ to: addressOf(peer), member: peer });
    }
    for (const { to, member } of targets) this.#announceJoin(to, member);
    this.#resolve(RESOLVE_JOIN);
    // Jittered, so the members of a mass restart do not retry in lock-step.
    const base = Math.min(this.#ctx.cfg.joinRetryMax, this.#ctx.cfg.probeInterval * 2 ** attempt);
    const delay = Math.ceil(base / 2) + randomInt(this.#ctx.rng, Math.ceil(base / 2));
    this.#ctx.out.schedule({ kind: "join", token, attempt: attempt + 1 }, delay);
  }

  /** One join announce (and push/pull, with streams) to `to`. */
  #announceJoin(to: PeerAddress, member?: MemberRecord): void {
    const seqNo = this.sendAnnounce(to, member);
    if (this.#feedsExpected.size >= 64) this.#feedsExpected.clear();
    this.#feedsExpected.set(`${to.host}:${to.port}`, this.#ctx.now() + this.#ctx.cfg.probeInterval);
    if (this.#joinSeqs.size >= 64) this.#joinSeqs.clear();
    this.#joinSeqs.add(seqNo);
    if (this.#ctx.streams) {
      this.#ctx.out.push({ type: "pushPull", to, request: this.pushPull(true) });
    }
  }

  /** Ask the host for the named seeds' addresses now, superseding an earlier ask under `key`. */
  #resolve(key: string): void {
    const names = [...new Set(this.#seeds.flatMap((s) => s.name === undefined ? [] : [s.name]))];
    if (names.length === 0) return;
    const token = this.#ctx.timers.arm("resolve", key);
    this.#ctx.out.push({ type: "resolve", names, token });
  }

  /**
   * The answer to a `resolve` effect: the join attempt (or re-announce) that asked goes on to
   * the named seeds' fresh addresses. Addresses are used once, never kept, so the next attempt
   * asks again. An answer that is not the latest ask's (`token`) is ignored.
   */
  onResolved(token: number, results: readonly ResolveResult[]): void {
    const timers = this.#ctx.timers;
    const key = timers.isLatest(RESOLVE_JOIN, token)
      ? RESOLVE_JOIN
      : timers.isLatest(RESOLVE_REANNOUNCE, token)
      ? RESOLVE_REANNOUNCE
      : undefined;
    if (key === undefined) return;
    timers.disarm(key);
    if (this.#ctx.leaving) return;
    const addresses = this.#resolvedSeeds(results);
    if (key === RESOLVE_JOIN) {
      if (!this.#joined) { for (const to of addresses) this.#announceJoin(to); }
      return;
    }
    for (const to of addresses) if (!liveAt(this.#ctx, to)) this.sendAnnounce(to);
  }

  /**
   * The named seeds' addresses in `results`: valid IP literals only, canonical text, the
   * seed's port unless an SRV record gave one, at most {@linkcode MAX_ADDRESSES_PER_NAME} per
   * name, without duplicates or ourselves.
   */
  #resolvedSeeds(results: readonly ResolveResult[]): PeerAddress[] {
    const byName = new Map(results.map((r) => [r.name, r.addresses ?? []]));
    const seen = new Set<string>();
    const out: PeerAddress[] = [];
    for (const seed of this.#seeds) {
      if (seed.name === undefined) continue;
      for (const a of (byName.get(seed.name) ?? []).slice(0, MAX_ADDRESSES_PER_NAME)) {
        const port = a.port ?? seed.port;
        const host = canonicalIp(a.host);
        if (host === undefined || !Number.isInteger(port) || port < 1 || port > 65535) continue;
        const to = { host, port };
        const key = `${host}:${port}`;
        if (seen.has(key) || sameAddress(to, this.#ctx.self)) continue;
        seen.add(key);
        out.push(to);
      }
    }
    return out;
  }

  /**
   * "Who is there?": a ping addressed to no name plus our alive. A memberlist member answers
   * with an ack; a shoal member with a feed of its table and an ack, or with nothing when its
   * feed rate limit refuses (see {@linkcode AntiEntropy.sendFeed}). Returns the ping's sequence
   * number.
   */
  sendAnnounce(to: PeerAddress, member?: MemberRecord): number {
    const seqNo = nextSeq(this.#ctx);
    const packer = packerFor(this.#ctx, member);
    packer.add(this.#ctx.codec.encode(pingFrom(this.#ctx.self, seqNo, "")));
    packer.add(this.#ctx.codec.encode(aliveRumour(this.#ctx.self)));
    this.#ctx.out.send(to, packer.finish());
    return seqNo;
  }

  /**
   * Anti-entropy over datagrams: send our table to `to` as alive (and left) rumours, packed
   * into as few packets as fit, at most {@linkcode MAX_FEED_PACKETS}. Rate-limited, since it
   * answers a small packet with several large ones. Returns false when the limit refused: an
   * announce must then go unanswered (no ack), so a joiner retries instead of believing it
   * received the table.
   */
  sendFeed(to: PeerAddress, member?: MemberRecord): boolean {
    const now = this.#ctx.now();
    this.#feedTimes = this.#feedTimes.filter((t) => now - t < FEED_WINDOW);
    if (this.#feedTimes.length >= MAX_FEEDS_PER_WINDOW) {
      this.#ctx.stats.feedsDropped++;
      return false;
    }
    this.#feedTimes.push(now);
    const records = [...this.#ctx.table.values()].filter((m) => m.state !== "dead");
    shuffle(this.#ctx.rng, records);
    const selfIndex = records.indexOf(this.#ctx.self);
    if (selfIndex > 0) [records[0], records[selfIndex]] = [records[selfIndex], records[0]];
    let packer = packerFor(this.#ctx, member);
    let packets = 0;
    for (const m of records) {
      const bytes = m.state === "left"
        ? this.#ctx.codec.encode(leftRumour(m))
        : encodedAlive(this.#ctx, m);
      if (packer.add(bytes)) continue;
      this.#ctx.out.send(to, packer.finish());
      if (++packets >= MAX_FEED_PACKETS) return true;
      packer = packerFor(this.#ctx, member);
      packer.add(bytes);
    }
    if (packer.count > 0) this.#ctx.out.send(to, packer.finish());
    return true;
  }

  onSyncTimer(token: number): void {
    const interval = syncInterval(this.#ctx.cfg.pushPullInterval, this.#ctx.table.size);
    this.#ctx.out.schedule({ kind: "sync", token }, interval);
    this.#syncNow();
  }

  /**
   * A member new to us joined. After {@linkcode CHURN_SYNC_JOINS} of them since our last sync,
   * a sync follows once no new member has come for a probe interval, and at least
   * {@linkcode CHURN_SYNC_GAP} probe intervals after the last churn sync (protocol.md §12):
   * gossip leaves a tail of pairs that never met after a mass join, and one full-state
   * exchange with a random member closes it.
   */
  onNewMember(): void {
    this.#lastJoinAt = this.#ctx.now();
    if (++this.#joinsSinceSync < CHURN_SYNC_JOINS || this.#churnArmed) return;
    this.#churnArmed = true;
    const token = this.#ctx.timers.arm("churnSync");
    this.#ctx.out.schedule({ kind: "churnSync", token }, this.#ctx.cfg.probeInterval);
  }

  onChurnSyncTimer(token: number): void {
    const now = this.#ctx.now(), { probeInterval } = this.#ctx.cfg;
    const wait = Math.max(
      this.#lastJoinAt + probeInterval,
      this.#lastChurnSyncAt + CHURN_SYNC_GAP * probeInterval,
    ) - now;
    if (wait > 0) return this.#ctx.out.schedule({ kind: "churnSync", token }, wait);
    if (!this.#churnSpread) {
      // Joins calmed for everyone at once: spread the syncs over a few probe intervals, so
      // that they do not all land in the same moment (members of one process share its CPU).
      this.#churnSpread = true;
      const spread = probeInterval * CHURN_SYNC_SPREAD;
      const delay = randomInt(this.#ctx.rng, spread);
      if (delay > 0) return this.#ctx.out.schedule({ kind: "churnSync", token }, delay);
    }
    this.#churnSpread = false;
    this.#churnArmed = false;
    this.#lastChurnSyncAt = now;
    // A periodic sync since then may have done the work.
    if (this.#joinsSinceSync >= CHURN_SYNC_JOINS) this.#syncNow();
  }

  #joinsSinceSync = 0;
  #lastJoinAt = -Infinity;
  #lastChurnSyncAt = -Infinity;
  #churnArmed = false;
  #churnSpread = false;

  /** One full-state exchange with a random live member: push/pull, or a feed and an announce. */
  #syncNow(): void {
    this.#joinsSinceSync = 0;
    if (this.#ctx.leaving) return;
    const [peer] = this.#ctx.table.sample(1, (m) => m.state === "alive" && m !== this.#ctx.self);
    if (!peer) return;
    if (this.#ctx.streams) {
      this.#ctx.out.push({ type: "pushPull", to: addressOf(peer), request: this.pushPull(false) });
      return;
    }
    this.sendFeed(addressOf(peer), peer);
    this.sendAnnounce(addressOf(peer), peer);
  }

  /**
   * Partition healing: announce ourselves to every seed we do not currently see as a live
   * member, to one member we hold as dead, and to one live member (with sync on, only while
   * new members keep coming). Whoever is really there answers with its table, and stale views
   * on either side are corrected (see `#correct`).
   */
  onReannounce(token: number): void {
    this.#ctx.out.schedule(
      { kind: "reannounce", token },
      this.#ctx.cfg.reannounceInterval,
    );
    if (this.#ctx.leaving) return;
    for (const seed of literals(this.#seeds)) {
      if (!liveAt(this.#ctx, seed)) this.sendAnnounce(seed);
    }
    this.#resolve(RESOLVE_REANNOUNCE); // named seeds: once their fresh addresses are known
    const [down] = this.#ctx.table.sampleNotAlive(1, (m) => m.state === "dead");
    if (down) this.sendAnnounce(addressOf(down), down);
    // And pull one live member's table: epidemic gossip can miss a pair of members for good
    // (nobody re-sends a spent rumour); the scaled sync alone leaves such a pair for minutes.
    // With sync on, only while members keep coming: a quiet table's gaps were closed already.
    const quiet =
      this.#ctx.now() - this.#lastJoinAt > PULL_AFTER_JOINS * this.#ctx.cfg.reannounceInterval;
    if (this.#ctx.cfg.pushPullInterval > 0 && quiet) return;
    const [peer] = this.#ctx.table.sample(1, (m) => m.state === "alive" && m !== this.#ctx.self);
    if (peer) this.sendAnnounce(addressOf(peer), peer);
  }

  onJoinTimer(token: number, attempt: number): void {
    if (this.#ctx.leaving || this.#joined) return;
    this.#attemptJoin(token, attempt);
  }
}

/** memberlist's pushPullScale (protocol.md §12): the interval grows with log2(n) beyond 32 members. */
export function syncInterval(interval: number, n: number): number {
  if (n <= 32) return interval;
  return interval * (Math.ceil(Math.log2(n) - Math.log2(32)) + 1);
}

/** The seeds given as IP literals. */
function literals(seeds: readonly SeedAddress[]): PeerAddress[] {
  return seeds.flatMap((s) => s.host === undefined ? [] : [{ host: s.host, port: s.port }]);
}

/** An IP literal in canonical text (as member hosts are), or undefined when it is not one. */
function canonicalIp(host: string): string | undefined {
  try {
    return bytesToIp(ipToBytes(host));
  } catch {
    return undefined;
  }
}

/** Every entry of a merge, remote and local, as the version check sees it. */
function* versionedEntries(
  remote: readonly NodeState[],
  local: Iterable<MemberRecord>,
): Iterable<{ vsn: Uint8Array; alive: boolean }> {
  for (const s of remote) yield { vsn: s.vsn, alive: s.state === StateCode.alive };
  for (const m of local) yield { vsn: m.vsn, alive: m.state === "alive" };
}
