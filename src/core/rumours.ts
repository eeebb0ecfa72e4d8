/**
 * The membership rules (spec §7) and suspicion timers (§9): the only place a member's state
 * changes. Alive, suspect and dead rumours are applied with incarnation precedence
 * (`alive(i) < suspect(i) < alive(i+1)`, dead and left win at ≥ the known incarnation), our own
 * accusations are refuted, and stale views are corrected (recovery).
 *
 * @module
 */

import type { Context } from "./context.ts";
import { aliveRumour, leftRumour, safeIp } from "./context.ts";
import { bytesEqual, type MemberRecord } from "./member.ts";
import type { Alive, Dead, Suspect } from "./messages.ts";
import { Suspicion, suspicionBounds } from "./suspicion.ts";
import type { Dissemination } from "./dissemination.ts";

/** Applies rumours to the member table. */
export class Rumours {
  readonly #ctx: Context;
  readonly #diss: Dissemination;

  /** Rules for the member described by `ctx`, gossiping through `diss`. */
  constructor(ctx: Context, diss: Dissemination) {
    this.#ctx = ctx;
    this.#diss = diss;
  }

  /** Drop any suspicion of `name` (the member is being forgotten). */
  forget(name: string): void {
    this.#suspicions.delete(name);
  }

  readonly #suspicions = new Map<string, Suspicion>();

  #reassertedAt = -Infinity;

  /** member name → when we last corrected its stale view of itself. */
  readonly #corrected = new Map<string, number>();

  /** "member@sender" → when we last answered that sender's stale accusation. */
  readonly #answered = new Map<string, number>();

  #suspicionToken = 0;

  /**
   * Confirm the death of a member held as `unreachable` (with `confirmDeaths`), declaring it
   * dead and gossiping that. Returns false if the member is not unreachable.
   */
  confirmDead(name: string): boolean {
    const m = this.#ctx.table.get(name);
    if (!m || m.state !== "unreachable") return false;
    m.state = "suspect"; // dead outranks suspect at the same incarnation
    this.#ctx.stats.deadDeclared++;
    this.onDead({
      type: "dead",
      incarnation: m.incarnation,
      node: name,
      from: this.#ctx.self.name,
    });
    return true;
  }

  onAlive(a: Alive): void {
    const self = this.#ctx.self;
    const isSelf = a.node === self.name;
    if (!a.node) return;
    if (isSelf && this.#ctx.leaving) return;
    if (a.vsn.length >= 3 && (a.vsn[0] === 0 || a.vsn[1] === 0 || a.vsn[0] > a.vsn[1])) return;
    let m = this.#ctx.table.get(a.node);
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
        stateChangedAt: this.#ctx.now(),
      };
      if (!m.host) return;
      this.#ctx.table.add(m);
    } else if (!bytesEqual(m.addr, a.addr) || m.port !== a.port) {
      if (isSelf) {
        // Someone announces our name from elsewhere: out-bid it so our address wins.
        if (a.incarnation >= self.incarnation) this.refute(a.incarnation);
        return;
      }
      if (!this.#mayMove(m, a)) {
        this.#ctx.stats.conflicts++;
        this.#ctx.out.emit("conflict", m, { address: safeIp(a.addr), port: a.port });
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
      this.refute(a.incarnation);
      return;
    }
    this.#diss.gossip(a.node, a);
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
      m.stateChangedAt = this.#ctx.now();
    }
    if (wasState === "dead" || wasState === "left") {
      this.#ctx.out.emit("join", m);
      this.#welcome(m);
    } else if (wasState === "suspect" || wasState === "unreachable") {
      this.#ctx.out.emit("alive", m);
      if (metaChanged) this.#ctx.out.emit("update", m);
    } else if (metaChanged) {
      this.#ctx.out.emit("update", m);
    }
  }

  /** May `m` take the address announced in `a` (the configured conflict policy)? */
  #mayMove(m: MemberRecord, a: Alive): boolean {
    if (m.state === "left") return true;
    switch (this.#ctx.cfg.conflictPolicy) {
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
    if (!stale || this.#ctx.leaving) return;
    // Lagging gossip about a live member is normal; only correct the member's own voice, or a
    // member we believe is down.
    const from = this.#ctx.packetFrom;
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
    this.#diss.sendTo(to, view, true, m);
  }

  onSuspect(s: Suspect): void {
    const m = this.#ctx.table.get(s.node);
    if (m === this.#ctx.self && s.incarnation < m.incarnation) return this.#reassert();
    if (m && s.incarnation < m.incarnation) return this.#answerStale(m);
    if (!m || s.incarnation < m.incarnation) return;
    const running = this.#suspicions.get(s.node);
    if (running && m.state === "suspect" && s.incarnation === m.incarnation) {
      if (running.confirm(s.from)) {
        this.#diss.gossip(s.node, s);
        this.scheduleSuspicion(m.name, running);
      }
      return;
    }
    // A suspicion at a higher incarnation than ours means the member refuted the one we hold
    // (we missed its alive) and was accused again: alive(i+1) and suspect(i+1) both outrank
    // suspect(i), so start over from the newer accusation. memberlist only counts it as a
    // confirmation, which can declare a member dead for an accusation it already refuted.
    const outdated = m.state === "suspect" && s.incarnation > m.incarnation;
    if (m.state !== "alive" && !outdated) return;
    if (m === this.#ctx.self) {
      if (!this.#ctx.leaving) this.refute(s.incarnation);
      return;
    }
    this.#diss.gossip(s.node, s);
    m.incarnation = s.incarnation;
    m.state = "suspect";
    m.stateChangedAt = this.#ctx.now();
    const full = suspicionBounds(
      this.#ctx.table.size,
      this.#ctx.cfg.suspicionMult,
      this.#ctx.cfg.suspicionMaxTimeoutMult,
      this.#ctx.cfg.probeInterval,
    );
    // Without Lifeguard's adaptive suspicion: plain SWIM's fixed timeout.
    const bounds = this.#ctx.cfg.lifeguard.suspicion
      ? full
      : { min: full.min, max: full.min, k: 0 };
    const suspicion = new Suspicion(++this.#suspicionToken, this.#ctx.now(), bounds, s.from);
    this.#suspicions.set(m.name, suspicion);
    this.scheduleSuspicion(m.name, suspicion);
    if (s.from !== this.#ctx.self.name) this.#ctx.table.probeSoon(m.name);
    if (!outdated) this.#ctx.out.emit("suspect", m);
  }

  onDead(d: Dead): void {
    const m = this.#ctx.table.get(d.node);
    if (m === this.#ctx.self && d.incarnation < m.incarnation) return this.#reassert();
    if (m && d.incarnation < m.incarnation) return this.#answerStale(m);
    if (!m || d.incarnation < m.incarnation) return;
    this.#suspicions.delete(d.node);
    if (m.state === "dead" || m.state === "left") return;
    if (m === this.#ctx.self) {
      if (!this.#ctx.leaving) {
        this.refute(d.incarnation);
        return;
      }
      const inc = m.incarnation;
      this.#diss.gossip(d.node, d, () => this.#ctx.out.settled("leave", inc));
    } else {
      this.#diss.gossip(d.node, d);
    }
    m.incarnation = d.incarnation;
    m.state = d.from === d.node ? "left" : "dead";
    m.stateChangedAt = this.#ctx.now();
    this.#ctx.out.emit(m.state === "left" ? "leave" : "dead", m);
  }

  /** Someone says we are suspect or dead (or out of date): out-bid them (spec §7.5). */
  refute(accused: number): void {
    const self = this.#ctx.self;
    let inc = (self.incarnation + 1) >>> 0;
    if (accused >= inc) inc = (accused + 1) >>> 0;
    self.incarnation = inc;
    this.#ctx.stats.refutations++;
    if (this.#ctx.cfg.lifeguard.awareness) this.#ctx.awareness.apply(1);
    this.#diss.gossip(self.name, aliveRumour(this.#ctx.self));
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
   * The sender of this packet gossips an accusation about `m` that `m` has already out-lived:
   * it missed the newer news. Send it what we know (once per probe interval per member), so
   * it does not declare a refuted member dead.
   */
  #answerStale(m: MemberRecord): void {
    const to = this.#ctx.packetFrom;
    if (!to || this.#ctx.leaving || m.state !== "alive") return;
    const now = this.#ctx.now();
    const key = `${m.name}@${to.host}:${to.port}`;
    const last = this.#answered.get(key);
    if (last !== undefined && now - last < this.#ctx.cfg.probeInterval) return;
    if (this.#answered.size > 4096) this.#answered.clear();
    this.#answered.set(key, now);
    this.#ctx.stats.staleAnswered++;
    this.#diss.sendTo(to, aliveRumour(m), true);
  }

  /** Greeting budget: tokens left, and when they were last topped up. */
  #greetTokens = 0;
  #greetRefilledAt = -Infinity;

  /**
   * A member appeared (or came back): greet it with our alive so it learns of us even if the
   * rumour of us never reaches it. Greetings are a shortcut, not the guarantee (the join's full
   * state and anti-entropy are), so they are budgeted like gossip itself — `gossipNodes` per
   * gossip interval, in bursts of at most one probe interval's worth — and sent bare (nothing
   * piggy-backed). Unbudgeted and piggy-backed, a mass join of n members cost n² full-size
   * datagrams: the storm that melted 200 members in one process.
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

  onSuspicionTimeout(node: string, token: number): void {
    const suspicion = this.#suspicions.get(node);
    if (!suspicion || suspicion.token !== token) return;
    const m = this.#ctx.table.get(node);
    if (!m || m.state !== "suspect") {
      this.#suspicions.delete(node);
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
    this.#suspicions.delete(node);
    if (this.#ctx.cfg.confirmDeaths) {
      // Hold it: the application decides (confirmDead), or the member refutes.
      m.state = "unreachable";
      m.stateChangedAt = this.#ctx.now();
      this.#ctx.out.emit("unreachable", m);
      return;
    }
    this.#ctx.stats.deadDeclared++;
    this.onDead({ type: "dead", incarnation: m.incarnation, node, from: this.#ctx.self.name });
  }
}
