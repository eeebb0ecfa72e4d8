/**
 * Anti-entropy and joining: announcing ourselves to seeds, full-state exchange (push/pull over
 * streams, or table feeds over datagrams), and periodic re-announcement that heals
 * partitions (spec §6.4, §7.6, §12, §13).
 *
 * @module
 */

import type { PeerAddress } from "./address.ts";
import {
  addressOf,
  aliveRumour,
  type Context,
  leftRumour,
  liveAt,
  nextSeq,
  pingFrom,
} from "./context.ts";
import { type Dissemination, MAX_COMPOUND_PARTS } from "./dissemination.ts";
import { type MemberRecord, STATE_CODE } from "./member.ts";
import type { NodeState, Ping } from "./messages.ts";
import { randomInt, shuffle } from "./rng.ts";
import type { Rumours } from "./rumours.ts";

const MAX_FEED_PACKETS = 64;
const FEED_WINDOW = 1000;
const MAX_FEEDS_PER_WINDOW = 16;
/** Join attempts that go to the seeds alone, before a member learned meanwhile is asked too. */
const SEED_ONLY_ATTEMPTS = 3;

/** Joining, full-state sync and re-announcement. */
export class AntiEntropy {
  readonly #ctx: Context;
  readonly #diss: Dissemination;
  readonly #rumours: Rumours;

  /** Anti-entropy for `ctx`, sending through `diss`, merging through `rumours`. */
  constructor(ctx: Context, diss: Dissemination, rumours: Rumours) {
    this.#ctx = ctx;
    this.#diss = diss;
    this.#rumours = rumours;
  }

  /** Start the sync and re-announce timers (after random delays). */
  start(): void {
    const cfg = this.#ctx.cfg;
    if (cfg.pushPullInterval > 0) {
      this.#ctx.out.schedule(
        { kind: "sync", token: ++this.#syncToken },
        randomInt(this.#ctx.rng, cfg.pushPullInterval),
      );
    }
    if (cfg.reannounceInterval > 0) {
      this.#ctx.out.schedule(
        { kind: "reannounce", token: ++this.#reannounceToken },
        cfg.reannounceInterval + randomInt(this.#ctx.rng, cfg.reannounceInterval),
      );
    }
  }

  /** Handle an anti-entropy timer; false if it is not ours or stale. */
  handleTimer(kind: "join" | "sync" | "reannounce", token: number, attempt = 0): void {
    if (kind === "join" && token === this.#joinToken) this.onJoinTimer(attempt);
    if (kind === "sync" && token === this.#syncToken) this.onSyncTimer();
    if (kind === "reannounce" && token === this.#reannounceToken) this.onReannounce();
  }

  /** Is `p` an announce: a ping addressed to no name, from another shoal member? */
  isAnnounce(p: Ping): boolean {
    return p.node === "" && !!p.sourceNode && p.sourceNode !== this.#ctx.self.name;
  }

  /** True once a full state was merged (push/pull) or a seed acked our announce (feed sent). */
  get joined(): boolean {
    return this.#joined;
  }

  /** An ack arrived: if it answers one of our join announces, the seed's feed is on its way. */
  onAck(seqNo: number): void {
    if (this.#joinSeqs.has(seqNo)) this.#settleJoin();
  }

  #settleJoin(): void {
    this.#joined = true;
    this.#joinSeqs.clear();
  }

  #joinToken = 0;

  /** A full state arrived (or we have no seeds); false while the join keeps announcing. */
  #joined = true;

  /** Sequence numbers of our join announces still unanswered (bounded). */
  readonly #joinSeqs = new Set<number>();

  #syncToken = 0;

  #feedTimes: number[] = [];

  #reannounceToken = 0;

  #seeds: PeerAddress[] = [];

  /**
   * Announce ourselves to `seeds` (ping to no name + our alive, and a push/pull when the host
   * has streams). The join is done when a full state arrives: a push/pull reply, or an ack to
   * an announce (a shoal seed acks only when it sent its table). Until then it retries with
   * jittered backoff, also through one member learned meanwhile, so a seed too busy to answer
   * every newcomer of a mass join does not leave them with half a view.
   */
  join(seeds: readonly PeerAddress[]): void {
    this.#seeds = [...seeds];
    this.#joined = this.#seeds.length === 0;
    if (!this.#joined) this.#attemptJoin(++this.#joinToken, 0);
  }

  /**
   * Our whole table, ourselves included, for a full-state exchange (push/pull, spec §6.4).
   * Addresses, metadata and versions are relayed exactly as announced.
   */
  localState(): NodeState[] {
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
   * Merge a peer's full state (spec §7.6): alive entries are alive rumours, left entries
   * leave rumours, suspect and dead entries only make the member suspect here. Refused
   * whole (and counted) if the protocol versions are incompatible.
   */
  mergeRemoteState(states: readonly NodeState[]): void {
    if (!compatibleVersions(states, this.#ctx.table.values())) {
      this.#ctx.stats.mergesRejected++;
      return;
    }
    this.#ctx.stats.merges++;
    this.#settleJoin();
    for (const s of states) {
      if (s.state === 0) {
        this.#rumours.onAlive({
          type: "alive",
          incarnation: s.incarnation,
          node: s.name,
          addr: s.addr,
          port: s.port,
          meta: s.meta,
          vsn: s.vsn,
        });
      } else if (s.state === 3) {
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
  }

  #attemptJoin(token: number, attempt: number): void {
    const targets: { to: PeerAddress; member?: MemberRecord }[] = this.#seeds.map((to) => ({ to }));
    if (attempt > 0) this.#ctx.stats.joinRetries++;
    if (attempt >= SEED_ONLY_ATTEMPTS) {
      // The seeds have not answered for a while: ask a member we learned of meanwhile too
      // (its table may be partial, which is why the seeds are tried alone first).
      const [peer] = this.#ctx.table.sample(1, (m) => m.state === "alive" && m !== this.#ctx.self);
      if (peer) targets.push({ to: addressOf(peer), member: peer });
    }
    for (const { to, member } of targets) {
      const seqNo = this.sendAnnounce(to, member);
      if (this.#joinSeqs.size >= 64) this.#joinSeqs.clear();
      this.#joinSeqs.add(seqNo);
      if (this.#ctx.streams) this.#ctx.out.push({ type: "pushPull", to, join: true });
    }
    // Jittered, so the members of a mass restart do not retry in lock-step.
    const base = Math.min(this.#ctx.cfg.joinRetryMax, this.#ctx.cfg.probeInterval * 2 ** attempt);
    const delay = Math.ceil(base / 2) + randomInt(this.#ctx.rng, Math.ceil(base / 2));
    this.#ctx.out.schedule({ kind: "join", token, attempt: attempt + 1 }, delay);
  }

  /**
   * "Who is there?": a ping addressed to no name plus our alive. A memberlist member answers
   * with an ack; a shoal member with a feed of its table and an ack, or with nothing when its
   * feed rate limit refuses (see {@linkcode AntiEntropy.sendFeed}). Returns the ping's sequence
   * number.
   */
  sendAnnounce(to: PeerAddress, member?: MemberRecord): number {
    const seqNo = nextSeq(this.#ctx);
    const parts = [
      this.#ctx.codec.encode(pingFrom(this.#ctx.self, seqNo, "")),
      this.#ctx.codec.encode(aliveRumour(this.#ctx.self)),
    ];
    this.#ctx.out.send(to, this.#ctx.codec.frame(parts, { crc: this.#diss.crcFor(member) }));
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
    const crc = this.#diss.crcFor(member);
    const { header, perPart } = this.#diss.framing(crc);
    const room = this.#ctx.cfg.udpBufferSize - this.#ctx.cfg.packetOverhead - header;
    const records = [...this.#ctx.table.values()].filter((m) => m.state !== "dead");
    shuffle(this.#ctx.rng, records);
    const selfIndex = records.indexOf(this.#ctx.self);
    if (selfIndex > 0) [records[0], records[selfIndex]] = [records[selfIndex], records[0]];
    let parts: Uint8Array[] = [];
    let used = 0, packets = 0;
    const flush = () => {
      if (parts.length) this.#ctx.out.send(to, this.#ctx.codec.frame(parts, { crc }));
      parts = [];
      used = 0;
      packets++;
    };
    for (const m of records) {
      const bytes = this.#ctx.codec.encode(m.state === "left" ? leftRumour(m) : aliveRumour(m));
      if (used + perPart + bytes.length > room || parts.length >= MAX_COMPOUND_PARTS) flush();
      if (packets >= MAX_FEED_PACKETS) return true;
      parts.push(bytes);
      used += perPart + bytes.length;
    }
    flush();
    return true;
  }

  onSyncTimer(): void {
    const interval = syncInterval(this.#ctx.cfg.pushPullInterval, this.#ctx.table.size);
    this.#ctx.out.schedule({ kind: "sync", token: this.#syncToken }, interval);
    if (this.#ctx.leaving) return;
    const [peer] = this.#ctx.table.sample(1, (m) => m.state === "alive" && m !== this.#ctx.self);
    if (!peer) return;
    if (this.#ctx.streams) {
      this.#ctx.out.push({ type: "pushPull", to: addressOf(peer), join: false });
      return;
    }
    this.sendFeed(addressOf(peer), peer);
    this.sendAnnounce(addressOf(peer), peer);
  }

  /**
   * Partition healing: announce ourselves to every seed we do not currently see as a live
   * member, to one member we hold as dead, and to one live member. Whoever is really there
   * answers with its table, and stale views on either side are corrected (see `#correct`).
   */
  onReannounce(): void {
    this.#ctx.out.schedule(
      { kind: "reannounce", token: this.#reannounceToken },
      this.#ctx.cfg.reannounceInterval,
    );
    if (this.#ctx.leaving) return;
    for (const seed of this.#seeds) {
      if (!liveAt(this.#ctx, seed)) this.sendAnnounce(seed);
    }
    const [down] = this.#ctx.table.sample(1, (m) => m.state === "dead");
    if (down) this.sendAnnounce(addressOf(down), down);
    // And pull one live member's table: epidemic gossip can miss a pair of members for good
    // (nobody re-sends a rumour once it is spent); this closes such gaps even without sync.
    const [peer] = this.#ctx.table.sample(1, (m) => m.state === "alive" && m !== this.#ctx.self);
    if (peer) this.sendAnnounce(addressOf(peer), peer);
  }

  onJoinTimer(attempt: number): void {
    if (this.#ctx.leaving || this.#joined) return;
    this.#attemptJoin(this.#joinToken, attempt);
  }
}

/** memberlist's pushPullScale (spec §12): the interval grows with log2(n) beyond 32 members. */
export function syncInterval(interval: number, n: number): number {
  if (n <= 32) return interval;
  return interval * (Math.ceil(Math.log2(n) - Math.log2(32)) + 1);
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
