/**
 * The membership rules (protocol.md §7) and suspicion timers (§9): the only place a member's
 * state changes. Every claim — a rumour, a full-state entry, a local decision — is judged by
 * {@linkcode judge} (precedence.ts) and applied by one mutation; the reactions (gossip, events,
 * refutation, correcting stale views) follow from the verdict.
 *
 * @module
 */

import type { PeerAddress } from "./address.ts";
import type { Context } from "./context.ts";
import { aliveRumour, leftRumour, reclaimKey, safeIp, suspicionKey } from "./context.ts";
import { META_MAX_SIZE } from "./config.ts";
import type { RefusalKind } from "./stats.ts";
import { TokenBuckets } from "./token_buckets.ts";
import { bytesEqual, type MemberRecord } from "./member.ts";
import type { Alive, Dead, Suspect } from "./messages.ts";
import { type Claim, judge, mayMove, outbid } from "./precedence.ts";
import { Suspicion, suspicionBounds } from "./suspicion.ts";
import type { Dissemination } from "./dissemination.ts";
import type { RecordPatch } from "./membership.ts";
import { impossibleRange, LEGACY_VSN } from "./versions.ts";

/** Longest member name accepted, in UTF-16 code units. */
export const MAX_NAME_LENGTH = 512;

/** Applies claims to the member table. */
export class Rumours {
  readonly #ctx: Context;
  readonly #diss: Dissemination;
  readonly #onNewMember: () => void;

  /** Rules for the member described by `ctx`, gossiping through `diss`. */
  constructor(ctx: Context, diss: Dissemination, onNewMember: () => void = () => {}) {
    this.#ctx = ctx;
    this.#diss = diss;
    this.#onNewMember = onNewMember;
    this.#newMembers = new TokenBuckets(
      ctx.cfg.newMembersPerSecond,
      ctx.cfg.newMembersBurst,
      ctx.now,
    );
  }

  /** Drop any suspicion of `name` (the member is being forgotten). */
  forget(name: string): void {
    this.#endSuspicion(name);
    this.#successors.delete(name);
    this.#ctx.timers.disarm(reclaimKey(name));
  }

  /**
   * member name → the highest alive refused from another address while the member we hold was
   * not dead, at an incarnation above it: most likely the member restarted elsewhere (a new
   * port or IP after a crash). Under `replace-dead` it takes the name when we declare the old
   * life dead ourselves, instead of waiting for the next announce or sync (protocol.md §13.4).
   * A dead rumour from the network does not hand the name over: a forged death is refuted by
   * the live member, which must keep its address.
   */
  readonly #successors = new Map<string, Alive>();

  readonly #suspicions = new Map<string, Suspicion>();

  #reassertedAt = -Infinity;

  /** member name → when we last corrected its stale view of itself. */
  readonly #corrected = new Map<string, number>();

  /** "member@sender" → when we last answered that sender's stale accusation. */
  readonly #answered = new Map<string, number>();

  /**
   * Confirm the death of a member held as `unreachable` (with `confirmDeaths`), declaring it
   * dead and gossiping that. Returns false if the member is not unreachable.
   */
  confirmDead(name: string): boolean {
    const m = this.#ctx.table.get(name);
    if (!m || m.state !== "unreachable") return false;
    this.#declareDead(m);
    return true;
  }

  /**
   * Replace our metadata under a new incarnation, gossiped; settles as `"meta"` once spread.
   * Returns the new incarnation.
   */
  updateMeta(meta: Uint8Array | null): number {
    const self = this.#ctx.self;
    this.#reincarnate();
    this.#ctx.table.update(self, { meta }, this.#ctx.now());
    const inc = self.incarnation;
    this.#diss.gossip(self.name, aliveRumour(self), () => this.#ctx.out.settled("meta", inc));
    this.#ctx.out.emit("update", self);
    return inc;
  }

  /**
   * An alive claim, from a datagram sent by `from` or a full-state merge (no `from`). A member
   * new to us is gossiped on unless the claim is not `news` (part of a table answering our
   * join, protocol.md §13.1).
   */
  onAlive(received: Alive, from?: PeerAddress, news = true): void {
    const ctx = this.#ctx;
    if (!received.node || impossibleRange(received.vsn)) return;
    const a = received.vsn.length === 0 ? { ...received, vsn: LEGACY_VSN } : received;
    const claim: Claim = { state: "alive", incarnation: a.incarnation };
    let m = ctx.table.get(a.node);
    if (m === ctx.self) return this.#aliveAboutSelf(a, claim);
    if (!this.#acceptable(a, m === undefined, from)) return;
    let moved = false;
    const known = m !== undefined;
    if (!m) {
      const host = safeIp(a.addr);
      if (judge(undefined, claim) !== "newer" || !host) return;
      const fresh: MemberRecord = {
        name: a.node,
        addr: a.addr,
        host,
        port: a.port,
        meta: a.meta,
        vsn: a.vsn,
        incarnation: 0,
        state: "dead",
      };
      ctx.table.add(fresh, ctx.now());
      m = ctx.table.get(a.node)!;
    } else if ((moved = !bytesEqual(m.addr, a.addr) || m.port !== a.port)) {
      const deadFor = ctx.now() - ctx.table.changedAt(m);
      if (judge(m, claim) === "implausible") return void ctx.stats.implausibleClaims++;
      if (!mayMove(ctx.cfg.conflictPolicy, m, claim, deadFor, ctx.cfg.deadNodeReclaimTime)) {
        this.#rememberSuccessor(m, a);
        ctx.stats.conflicts++;
        ctx.out.emit("conflict", m, { address: safeIp(a.addr), port: a.port });
        return;
      }
      m = ctx.table.update(m, { addr: a.addr, host: safeIp(a.addr) || m.host }, ctx.now());
    } else {
      const verdict = judge(m, claim);
      if (verdict === "stale") this.#correct(m, a, from);
      if (verdict === "implausible") ctx.stats.implausibleClaims++;
      if (verdict !== "newer") return;
    }
    this.#endSuspicion(a.node);
    const successor = this.#successors.get(a.node);
    if (successor && (moved || a.incarnation >= successor.incarnation)) {
      this.#successors.delete(a.node);
    }
    if (news || known) this.#diss.gossip(a.node, a);
    const was = m.state;
    const metaChanged = !bytesEqual(m.meta, a.meta);
    m = this.#set(m, claim, {
      port: a.port,
      meta: a.meta,
      vsn: a.vsn.length === 6 ? a.vsn : m.vsn,
    });
    if (was === "dead" || was === "left") {
      ctx.out.emit("join", m);
      this.#welcome(m);
      if (!known) this.#onNewMember();
    } else if (was === "suspect" || was === "unreachable") {
      ctx.out.emit("alive", m);
      if (metaChanged) ctx.out.emit("update", m);
    } else if (metaChanged) {
      ctx.out.emit("update", m);
    }
  }

  /**
   * Someone announces us. Older than what we hold: ignored. An echo of our own alive: nothing
   * to do. Anything else (another address, other metadata, a higher incarnation): refute.
   */
  #aliveAboutSelf(a: Alive, claim: Claim): void {
    const self = this.#ctx.self;
    const verdict = judge(self, claim);
    if (verdict === "implausible") return void this.#ctx.stats.implausibleClaims++;
    if (this.#ctx.leaving || verdict === "stale") return;
    const echo = bytesEqual(self.addr, a.addr) && self.port === a.port &&
      a.incarnation === self.incarnation && bytesEqual(a.meta, self.meta) &&
      bytesEqual(a.vsn, self.vsn);
    if (!echo) this.refute(a.incarnation);
  }

  /**
   * An alive that is not news: if it is *older* than what we hold and we hold the member as
   * suspect, dead or left (or alive at a higher incarnation), the sender of that alive — most
   * likely the member itself after a restart — is out of date. Tell the member directly, so
   * it refutes and rejoins at once instead of staying invisible (memberlist#311).
   * Rate-limited to once per probe interval per member.
   */
  #correct(m: MemberRecord, a: Alive, from: PeerAddress | undefined): void {
    if (this.#ctx.leaving) return;
    // Lagging gossip about a live member is normal; only correct the member's own voice, or a
    // member we believe is down.
    const fromMember = from !== undefined && from.port === a.port && from.host === safeIp(a.addr);
    if (m.state === "alive" && !fromMember) return;
    const now = this.#ctx.now();
    const last = this.#corrected.get(m.name);
    if (last !== undefined && now - last < this.#ctx.cfg.probeInterval) return;
    if (this.#corrected.size > 4096) this.#corrected.clear();
    this.#corrected.set(m.name, now);
    this.#ctx.stats.corrections++;
    const self = this.#ctx.self.name;
    const view: Alive | Suspect | Dead = m.state === "alive"
      ? aliveRumour(m)
      : m.state === "left"
      ? leftRumour(m)
      : m.state === "dead"
      ? { type: "dead", incarnation: m.incarnation, node: m.name, from: self }
      : { type: "suspect", incarnation: m.incarnation, node: m.name, from: self };
    const to = { host: safeIp(a.addr) || m.host, port: a.port };
    this.#diss.sendTo(to, view, true, m, from);
  }

  /** A suspect claim, from a datagram sent by `from`, a merge, or our own failed probe. */
  onSuspect(s: Suspect, from?: PeerAddress): void {
    const ctx = this.#ctx;
    const m = ctx.table.get(s.node);
    const claim: Claim = { state: "suspect", incarnation: s.incarnation };
    const verdict = judge(m, claim);
    if (verdict === "implausible") return void ctx.stats.implausibleClaims++;
    if (!m || verdict === "ignored") return;
    if (verdict === "stale") return m === ctx.self ? this.#reassert() : this.#answerStale(m, from);
    if (verdict === "same") {
      const running = this.#suspicions.get(s.node);
      if (running?.confirm(s.from)) {
        this.#diss.gossip(s.node, s);
        this.scheduleSuspicion(m.name, running);
      }
      return;
    }
    if (m === ctx.self) {
      if (!ctx.leaving) this.refute(s.incarnation);
      return;
    }
    // A suspicion at a higher incarnation than ours means the member refuted the one we hold
    // (we missed its alive) and was accused again: start over from the newer accusation
    // (protocol.md §20).
    const outdated = m.state === "suspect";
    this.#diss.gossip(s.node, s);
    const held = this.#set(m, claim);
    const full = suspicionBounds(
      ctx.table.size,
      ctx.cfg.suspicionMult,
      ctx.cfg.suspicionMaxTimeoutMult,
      ctx.cfg.probeInterval,
    );
    // Without Lifeguard's adaptive suspicion: plain SWIM's fixed timeout.
    const bounds = ctx.cfg.lifeguard.suspicion ? full : { min: full.min, max: full.min, k: 0 };
    const token = ctx.timers.arm("suspicion", suspicionKey(held.name));
    const suspicion = new Suspicion(token, ctx.now(), bounds, s.from);
    this.#suspicions.set(held.name, suspicion);
    this.scheduleSuspicion(held.name, suspicion);
    if (s.from !== ctx.self.name) ctx.table.probeSoon(held.name);
    if (!outdated) ctx.out.emit("suspect", held);
  }

  /** A dead (or left) claim, from a datagram sent by `from`, a merge, or a local decision. */
  onDead(d: Dead, from?: PeerAddress): void {
    const ctx = this.#ctx;
    const m = ctx.table.get(d.node);
    const claim: Claim = { state: d.from === d.node ? "left" : "dead", incarnation: d.incarnation };
    const verdict = judge(m, claim);
    if (verdict === "implausible") return void ctx.stats.implausibleClaims++;
    if (!m || verdict === "ignored" || verdict === "same") return;
    if (verdict === "stale") return m === ctx.self ? this.#reassert() : this.#answerStale(m, from);
    this.#endSuspicion(d.node);
    if (m === ctx.self) {
      if (!ctx.leaving) {
        this.refute(d.incarnation);
        return;
      }
      const inc = m.incarnation;
      this.#diss.gossip(d.node, d, () => ctx.out.settled("leave", inc));
    } else {
      this.#diss.gossip(d.node, d);
    }
    const held = this.#set(m, claim);
    ctx.out.emit(held.state === "left" ? "leave" : "dead", held);
    if (this.#successors.has(held.name)) this.#scheduleReclaim(held);
  }

  /**
   * The reclaim time of dead or left `m` is over: a successor seen meanwhile takes the name
   * (`mayMove` now allows it).
   */
  onReclaim(node: string): void {
    const m = this.#ctx.table.get(node);
    const successor = this.#successors.get(node);
    if (!m || !successor || (m.state !== "dead" && m.state !== "left")) return;
    this.#successors.delete(node);
    this.onAlive(successor);
  }

  #scheduleReclaim(m: MemberRecord): void {
    const delay = Math.max(
      0,
      this.#ctx.table.changedAt(m) + this.#ctx.cfg.deadNodeReclaimTime - this.#ctx.now(),
    );
    const token = this.#ctx.timers.arm("reclaim", reclaimKey(m.name));
    this.#ctx.out.schedule({ kind: "reclaim", token, node: m.name }, delay);
  }

  /**
   * Bounds on what an alive may bring in (protocol.md §7.7): a name and metadata of bounded
   * size and an address inside `allowedCidrs`; and for a member new to us, room in the table
   * and in its sender's budget of new members. Refusals are counted by reason.
   */
  #acceptable(a: Alive, isNew: boolean, from: PeerAddress | undefined): boolean {
    const ctx = this.#ctx;
    const refuse = (kind: RefusalKind) => {
      ctx.stats.membersRefused[kind] = (ctx.stats.membersRefused[kind] ?? 0) + 1;
      return false;
    };
    if (a.node.length > MAX_NAME_LENGTH) return refuse("name");
    if (a.meta !== null && a.meta.length > META_MAX_SIZE) return refuse("meta");
    if (!ctx.allowed(a.addr)) return refuse("address");
    if (!isNew) return true;
    if (ctx.table.size >= ctx.cfg.maxMembers) return refuse("table-full");
    if (from !== undefined && !this.#newMembers.take(`${from.host}:${from.port}`)) {
      return refuse("rate");
    }
    return true;
  }

  /** Per-sender budgets of new members (merges over streams are not limited by sender). */
  readonly #newMembers: TokenBuckets;

  /** Our own verdict: `m` is dead. A successor seen meanwhile takes the name. */
  #declareDead(m: MemberRecord): void {
    this.#ctx.stats.deadDeclared++;
    this.onDead({
      type: "dead",
      incarnation: m.incarnation,
      node: m.name,
      from: this.#ctx.self.name,
    });
    const successor = this.#successors.get(m.name);
    if (!successor) return;
    this.#successors.delete(m.name);
    const held = this.#ctx.table.get(m.name)!;
    if (held.state === "dead" && successor.incarnation > held.incarnation) {
      this.#moveTo(held, successor);
    }
  }

  /** A successor takes the name of `m`, which we hold dead: our own verdict allows it. */
  #moveTo(m: MemberRecord, successor: Alive): void {
    this.#ctx.table.update(m, {
      addr: successor.addr,
      host: safeIp(successor.addr) || m.host,
      port: successor.port,
    }, this.#ctx.now());
    this.onAlive(successor);
  }

  /** Keep a refused alive from elsewhere that out-ranks the life we hold (see `#successors`). */
  #rememberSuccessor(m: MemberRecord, a: Alive): void {
    if (this.#ctx.cfg.conflictPolicy !== "replace-dead" || a.incarnation <= m.incarnation) return;
    const known = this.#successors.get(a.node);
    if (known && a.incarnation < known.incarnation) return;
    if (this.#successors.size >= 4096) this.#successors.clear();
    this.#successors.set(a.node, a);
    if (m.state === "dead" || m.state === "left") this.#scheduleReclaim(m);
  }

  /** Someone says we are suspect or dead (or out of date): out-bid them (protocol.md §7.5). */
  refute(accused: number): void {
    this.#reincarnate(accused);
    this.#ctx.stats.refutations++;
    if (this.#ctx.cfg.lifeguard.awareness) this.#ctx.awareness.apply(1);
    this.#diss.gossip(this.#ctx.self.name, aliveRumour(this.#ctx.self));
  }

  /** The one place our incarnation rises: above our own, and above `accused` when given. */
  #reincarnate(accused?: number): void {
    const self = this.#ctx.self;
    this.#ctx.table.update(
      self,
      { incarnation: outbid(self.incarnation, accused) },
      this.#ctx.now(),
    );
  }

  /**
   * The one change of a member's state and incarnation, for a claim that won (with `also`, the
   * rest of an alive's news). Returns the record now held: `m` is stale after.
   */
  #set(m: MemberRecord, claim: Claim, also?: RecordPatch): MemberRecord {
    const patch = { ...also, state: claim.state, incarnation: claim.incarnation };
    return this.#ctx.table.update(m, patch, this.#ctx.now());
  }

  #endSuspicion(name: string): void {
    if (this.#suspicions.delete(name)) this.#ctx.timers.disarm(suspicionKey(name));
  }

  /**
   * An accusation about an incarnation we already refuted is still going around: our
   * refutation did not reach everyone. Gossip our current alive again (at most once per probe
   * interval), otherwise those who missed it would declare us dead.
   */
  #reassert(): void {
    if (this.#ctx.leaving) return;
    const now = this.#ctx.now();
    if (now - this.#reassertedAt < this.#ctx.cfg.probeInterval) return;
    this.#reassertedAt = now;
    this.#ctx.stats.reassertions++;
    this.#diss.gossip(this.#ctx.self.name, aliveRumour(this.#ctx.self));
  }

  /**
   * `to` gossips an accusation about `m` that `m` has already out-lived: it missed the newer
   * news. Send it what we know (once per probe interval per member), so it does not declare a
   * refuted member dead.
   */
  #answerStale(m: MemberRecord, to: PeerAddress | undefined): void {
    if (!to || this.#ctx.leaving || m.state !== "alive") return;
    const now = this.#ctx.now();
    const key = `${m.name}@${to.host}:${to.port}`;
    const last = this.#answered.get(key);
    if (last !== undefined && now - last < this.#ctx.cfg.probeInterval) return;
    if (this.#answered.size > 4096) this.#answered.clear();
    this.#answered.set(key, now);
    this.#ctx.stats.staleAnswered++;
    this.#diss.sendTo(to, aliveRumour(m), true, undefined, to);
  }

  /** Greeting budget: tokens left, and when they were last topped up. */
  #greetTokens = 0;
  #greetRefilledAt = -Infinity;

  /**
   * A member appeared (or came back): greet it with our alive so it learns of us even if the
   * rumour of us never reaches it. Greetings are a shortcut, not the guarantee (the join's full
   * state and anti-entropy are), so they are budgeted like gossip itself — `gossipNodes` per
   * gossip interval, in bursts of at most one probe interval's worth — and sent bare (nothing
   * piggy-backed): unbudgeted, a mass join of n members costs n² full-size datagrams
   * (protocol.md §20).
   */
  #welcome(m: MemberRecord): void {
    if (this.#ctx.leaving) return;
    const { gossipNodes, gossipInterval, probeInterval } = this.#ctx.cfg;
    const now = this.#ctx.now();
    const burst = gossipNodes * Math.max(1, Math.ceil(probeInterval / gossipInterval));
    const refill = ((now - this.#greetRefilledAt) / gossipInterval) * gossipNodes;
    this.#greetTokens = Math.min(burst, this.#greetTokens + refill);
    this.#greetRefilledAt = now;
    if (this.#greetTokens < 1) {
      this.#ctx.stats.greetingsSkipped++;
      return;
    }
    this.#greetTokens--;
    this.#ctx.stats.greetings++;
    this.#diss.sendTo(m, aliveRumour(this.#ctx.self), false);
  }

  /**
   * Wake up halfway through what is left of the suspicion (or at its end when that is near),
   * so a long suspicion is re-gossiped a few times before it can turn into a death.
   */
  scheduleSuspicion(node: string, suspicion: Suspicion): void {
    const remaining = Math.max(0, suspicion.remaining(this.#ctx.now()));
    const step = this.#ctx.cfg.probeInterval;
    const delay = remaining > 2 * step ? Math.ceil(remaining / 2) : remaining;
    this.#ctx.out.schedule({ kind: "suspicion", node, token: suspicion.token }, delay);
  }

  onSuspicionTimeout(node: string): void {
    const suspicion = this.#suspicions.get(node);
    if (!suspicion) return;
    const m = this.#ctx.table.get(node);
    if (!m || m.state !== "suspect") {
      this.#endSuspicion(node);
      return;
    }
    if (suspicion.remaining(this.#ctx.now()) > 0) {
      // Still suspect: re-gossip the accusation. A member that refuted long ago (we missed its
      // alive) will have it re-asserted to us by whoever knows better, before we declare it
      // dead (the memberlist#311 family of stale views).
      this.#diss.gossip(node, {
        type: "suspect",
        incarnation: m.incarnation,
        node,
        from: this.#ctx.self.name,
      });
      this.scheduleSuspicion(node, suspicion);
      return;
    }
    this.#endSuspicion(node);
    if (this.#ctx.cfg.confirmDeaths) {
      // Hold it: the application decides (confirmDead), or the member refutes.
      const held = this.#set(m, { state: "unreachable", incarnation: m.incarnation });
      this.#ctx.out.emit("unreachable", held);
      return;
    }
    this.#declareDead(m);
  }
}
