/**
 * Failure detection (protocol.md §8): the probe cycle. Ping a member; without an ack after the probe
 * timeout, ask `indirectChecks` others to ping it (and try a stream when the host has one);
 * without any ack by the end of the probe period it becomes suspect. Also answers pings and
 * relays indirect probes for others.
 *
 * @module
 */

import type { PeerAddress } from "./address.ts";
import {
  addressOf,
  type Context,
  nextSeq,
  packerFor,
  pingFrom,
  relayKey,
  replyAddress,
  safeIp,
  sameAddress,
  scaled,
} from "./context.ts";
import type { Dissemination } from "./dissemination.ts";
import type { MemberRecord } from "./member.ts";
import type { Ack, IndirectPing, Nack, Ping, Suspect } from "./messages.ts";
import { observeRtt } from "./stats.ts";
import type { Rumours } from "./rumours.ts";
import { answersStreamPings, sendsNacks } from "./versions.ts";

interface Probe {
  readonly seqNo: number;
  readonly target: string;
  readonly startedAt: number;
  /** Where the target was when probed: a failed probe says nothing of it elsewhere. */
  readonly to: PeerAddress;
  acked: boolean;
  nacks: number;
  expectedNacks: number;
  /** The stream fallback probe got its ack. */
  fallbackAcked: boolean;
}

interface Relay {
  readonly requesterSeq: number;
  readonly requester: PeerAddress;
  /** The datagram's source: answers to it are verified (see `Dissemination.sendTo`). */
  readonly sender: PeerAddress;
  readonly nack: boolean;
}

/** Indirect probes relayed at once, at most (more are refused and counted). */
const MAX_RELAYS = 1024;

/** The probe cycle and the answers to others' probes. */
export class FailureDetector {
  readonly #ctx: Context;
  readonly #diss: Dissemination;
  readonly #rumours: Rumours;

  /** The detector for `ctx`, sending through `diss`, raising suspicions through `rumours`. */
  constructor(ctx: Context, diss: Dissemination, rumours: Rumours) {
    this.#ctx = ctx;
    this.#diss = diss;
    this.#rumours = rumours;
  }

  /** Start probing (after a random delay). */
  start(initialDelay: number): void {
    this.#ctx.out.schedule({ kind: "probe", token: this.#ctx.timers.arm("probe") }, initialDelay);
    this.#tickDue = this.#ctx.now() + initialDelay;
  }

  /** When the pending probe tick is due (its lag tells whether we stalled, §10). */
  #tickDue = 0;

  readonly #relays = new Map<number, Relay>();

  #probe: Probe | undefined;

  /** The outcome of a `streamPing` effect: `ok` when the ack arrived in time. */
  handleStreamPingResult(seqNo: number, ok: boolean): void {
    const probe = this.#probe;
    if (ok && probe && probe.seqNo === seqNo) probe.fallbackAcked = true;
  }

  onProbeTick(token: number): void {
    const now = this.#ctx.now();
    this.#ctx.awareness.noteTimer(this.#tickDue, now, this.#ctx.cfg.probeTimeout);
    this.#concludeProbe();
    if (this.#ctx.leaving) return;
    // The next tick's delay is the current probe period: stretched when our health is poor.
    const period = scaled(this.#ctx, this.#ctx.cfg.probeInterval);
    this.#ctx.out.schedule({ kind: "probe", token }, period);
    this.#tickDue = now + period;
    const target = this.#ctx.table.nextProbeTarget((m) => this.#reapable(m));
    if (!target) return;
    const seqNo = nextSeq(this.#ctx);
    this.#probe = {
      seqNo,
      target: target.name,
      startedAt: this.#ctx.now(),
      to: addressOf(target),
      acked: false,
      nacks: 0,
      expectedNacks: 0,
      fallbackAcked: false,
    };
    this.#ctx.stats.probes++;
    const ping = pingFrom(this.#ctx.self, seqNo, target.name);
    if (target.state === "suspect" && this.#ctx.cfg.lifeguard.buddy) {
      // Buddy system: let the suspect refute at once, the accusation rides with the ping.
      const accusation: Suspect = {
        type: "suspect",
        incarnation: target.incarnation,
        node: target.name,
        from: this.#ctx.self.name,
      };
      const packer = packerFor(this.#ctx, target);
      packer.add(this.#ctx.codec.encode(ping));
      packer.add(this.#ctx.codec.encode(accusation));
      this.#ctx.out.send(addressOf(target), packer.finish());
    } else {
      this.#diss.sendTo(target, ping, true);
    }
    this.#ctx.out.schedule(
      { kind: "probeTimeout", token: this.#ctx.timers.arm("probeTimeout") },
      scaled(this.#ctx, this.#ctx.cfg.probeTimeout),
    );
  }

  /** The direct ack of the current probe is overdue. */
  onProbeTimeout(): void {
    const probe = this.#probe;
    if (!probe || probe.acked) return;
    const seqNo = probe.seqNo;
    const target = this.#ctx.table.get(probe.target);
    if (!target) return;
    const helpers = this.#ctx.table.sample(
      this.#ctx.cfg.indirectChecks,
      (m) => m.state === "alive" && m !== this.#ctx.self && m !== target,
    );
    for (const helper of helpers) {
      const nack = sendsNacks(helper.vsn);
      if (nack) probe.expectedNacks++;
      const req: IndirectPing = {
        type: "indirectPing",
        seqNo,
        target: target.addr,
        port: target.port,
        node: target.name,
        nack,
        sourceAddr: this.#ctx.self.addr,
        sourcePort: this.#ctx.self.port,
        sourceNode: this.#ctx.self.name,
      };
      this.#ctx.stats.indirectProbes++;
      this.#diss.sendTo(helper, req, true);
    }
    // Meanwhile the same ping over a stream, for members that answer those (protocol.md §8.4): a
    // lossy or filtered datagram path then does not make a healthy member suspect.
    if (this.#ctx.streams && this.#ctx.cfg.tcpPings && answersStreamPings(target.vsn)) {
      const deadline = probe.startedAt + scaled(this.#ctx, this.#ctx.cfg.probeInterval);
      this.#ctx.out.push({
        type: "streamPing",
        to: addressOf(target),
        ping: pingFrom(this.#ctx.self, seqNo, target.name),
        timeout: Math.max(1, deadline - this.#ctx.now()),
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
      this.#ctx.stats.fallbackAcks++;
      return;
    }
    if (this.#ctx.cfg.lifeguard.awareness && this.#ctx.awareness.stalledAfter(probe.startedAt)) {
      // We stalled during the probe (§10): the silence may be our own, so nobody is accused.
      this.#ctx.stats.probesInconclusive++;
      return;
    }
    this.#ctx.stats.probesFailed++;
    if (this.#ctx.cfg.lifeguard.awareness) {
      // Helpers that answered with nacks vouch for our own health; silence counts against it.
      const nacks = this.#ctx.cfg.lifeguard.nacks && probe.expectedNacks > 0;
      this.#ctx.awareness.apply(nacks ? probe.expectedNacks - probe.nacks : 1);
    }
    const target = this.#ctx.table.get(probe.target);
    if (!target || (target.state !== "alive" && target.state !== "suspect")) return;
    // It moved meanwhile (a restart elsewhere took the name): the probe went to the old address.
    if (target.host !== probe.to.host || target.port !== probe.to.port) return;
    if (target.state === "alive") this.#ctx.stats.suspicionsRaised++;
    this.#rumours.onSuspect({
      type: "suspect",
      incarnation: target.incarnation,
      node: target.name,
      from: this.#ctx.self.name,
    });
  }

  /**
   * The answer to a ping, over a datagram or a stream: an ack when it is for us (addressed to
   * our name or to no name), else nothing (counted).
   */
  answerPing(p: Ping): Ack | null {
    if (p.node !== "" && p.node !== this.#ctx.self.name) {
      this.#ctx.stats.unexpectedPings++;
      return null;
    }
    return { type: "ack", seqNo: p.seqNo, payload: null };
  }

  onPing(p: Ping, from: PeerAddress): void {
    const ack = this.answerPing(p);
    if (!ack) return;
    const member = p.sourceNode ? this.#ctx.table.get(p.sourceNode) : undefined;
    this.#diss.sendTo(replyAddress(p, from), ack, true, member, from);
  }

  onIndirectPing(req: IndirectPing, from: PeerAddress): void {
    if (this.#relays.size >= MAX_RELAYS) {
      this.#ctx.stats.relaysDropped++;
      return;
    }
    const host = safeIp(req.target);
    if (!host) return;
    const seqNo = nextSeq(this.#ctx);
    this.#relays.set(seqNo, {
      requesterSeq: req.seqNo,
      requester: replyAddress(req, from),
      sender: from,
      nack: req.nack,
    });
    const target = { host, port: req.port || this.#ctx.self.port };
    this.#diss.sendTo(
      target,
      pingFrom(this.#ctx.self, seqNo, req.node),
      true,
      this.#ctx.table.get(req.node),
    );
    // Nack a little before our own probe timeout so the nack reaches the requester before its
    // probe period ends (its indirect probes went out one probe timeout into the period).
    this.#ctx.out.schedule(
      { kind: "relayTimeout", token: this.#ctx.timers.arm("relayTimeout", relayKey(seqNo)), seqNo },
      Math.floor(this.#ctx.cfg.probeTimeout * 0.8),
    );
  }

  /**
   * An ack from `from`. Returns the probed address when it is the direct ack of our probe,
   * which proves the member answers there.
   */
  onAck(ack: Ack, from: PeerAddress): PeerAddress | undefined {
    const probe = this.#probe;
    if (probe && probe.seqNo === ack.seqNo) {
      if (!probe.acked) {
        probe.acked = true;
        this.#ctx.stats.acksReceived++;
        if (this.#ctx.cfg.lifeguard.awareness) this.#ctx.awareness.apply(-1);
        this.#ctx.stats.lastProbeRtt = this.#ctx.now() - probe.startedAt;
        observeRtt(this.#ctx.stats.probeRtt, this.#ctx.stats.lastProbeRtt);
      }
      return sameAddress(from, probe.to) ? probe.to : undefined;
    }
    const relay = this.#relays.get(ack.seqNo);
    if (!relay) return undefined;
    this.#endRelay(ack.seqNo);
    this.#diss.sendTo(
      relay.requester,
      { type: "ack", seqNo: relay.requesterSeq, payload: null },
      true,
      undefined,
      relay.sender,
    );
    return undefined;
  }

  onNack(nack: Nack): void {
    const probe = this.#probe;
    if (probe && probe.seqNo === nack.seqNo && !probe.acked) {
      probe.nacks++;
      this.#ctx.stats.nacksReceived++;
    }
  }

  onRelayTimeout(seqNo: number): void {
    const relay = this.#relays.get(seqNo);
    if (!relay) return;
    this.#endRelay(seqNo);
    if (relay.nack) {
      this.#diss.sendTo(
        relay.requester,
        { type: "nack", seqNo: relay.requesterSeq },
        true,
        undefined,
        relay.sender,
      );
    }
  }

  #endRelay(seqNo: number): void {
    this.#relays.delete(seqNo);
    this.#ctx.timers.disarm(relayKey(seqNo));
  }

  #reapable(m: MemberRecord): boolean {
    if (m.state !== "dead" && m.state !== "left") return false;
    if (this.#ctx.now() - this.#ctx.table.changedAt(m) <= this.#ctx.cfg.gossipToTheDeadTime) {
      return false;
    }
    this.#rumours.forget(m.name);
    return true;
  }
}
