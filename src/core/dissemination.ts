/**
 * Infection-style dissemination (protocol.md §11): rumours queued with a transmit limit, piggy-backed
 * on every datagram we send and pushed to a few random members every gossip interval, packed
 * so that no datagram exceeds `udpBufferSize`. Application broadcasts have their own queue and
 * a reserved share of every packet.
 *
 * @module
 */

import type { PeerAddress } from "./address.ts";
import { BroadcastQueue, retransmitLimit } from "./broadcasts.ts";
import type { Packer } from "./codec.ts";
import { addressOf, type Context, datagramBudget, packerFor, sameAddress } from "./context.ts";
import { isActive, type MemberRecord } from "./member.ts";
import type { Alive, Dead, Message, Suspect } from "./messages.ts";

/** The rumour queues, and what fills each datagram. */
export class Dissemination {
  readonly #ctx: Context;

  /** Dissemination for the member described by `ctx`. */
  constructor(ctx: Context) {
    this.#ctx = ctx;
  }

  /** Rumours waiting to be gossiped. */
  get queueDepth(): number {
    return this.#queue.size;
  }

  /** Start the gossip ticker (after a random delay). */
  start(initialDelay: number): void {
    this.#ctx.out.schedule({ kind: "gossip", token: this.#ctx.timers.arm("gossip") }, initialDelay);
    this.#tickDue = this.#ctx.now() + initialDelay;
  }

  /** When the pending gossip tick is due (its lag tells whether we stalled, §10). */
  #tickDue = 0;

  readonly #queue = new BroadcastQueue();

  /** Application broadcasts, kept apart so membership gossip cannot starve them. */
  readonly #userQueue = new BroadcastQueue();

  #userBroadcastId = 0;

  /**
   * Gossip `payload` to the cluster, piggy-backed like membership rumours but from a share of
   * every packet reserved for it. As memberlist's delegate broadcasts, it is sent
   * `retransmitMult · ceil(log10(n + 1))` times by this member only; receivers do not relay.
   */
  broadcast(payload: Uint8Array): void {
    const room = datagramBudget(this.#ctx.cfg) - 8;
    if (payload.length === 0 || payload.length > room) {
      throw new RangeError(`a broadcast holds 1 to ${room} bytes, got ${payload.length}`);
    }
    const bytes = this.#ctx.codec.encode({ type: "user", payload });
    this.#userQueue.enqueue(`u${this.#userBroadcastId++}`, bytes);
  }

  onGossipTick(token: number): void {
    const now = this.#ctx.now();
    this.#ctx.awareness.noteTimer(this.#tickDue, now, this.#ctx.cfg.probeTimeout);
    this.#ctx.out.schedule({ kind: "gossip", token }, this.#ctx.cfg.gossipInterval);
    this.#tickDue = now + this.#ctx.cfg.gossipInterval;
    if (this.#queue.size === 0 && this.#userQueue.size === 0) return;
    const deadWindow = this.#ctx.cfg.gossipToTheDeadTime;
    const targets = this.#ctx.table.sample(
      this.#ctx.cfg.gossipNodes,
      (m) =>
        m !== this.#ctx.self &&
        (isActive(m.state) ||
          (m.state === "dead" && now - this.#ctx.table.changedAt(m) < deadWindow)),
    );
    for (const target of targets) {
      const packer = packerFor(this.#ctx, target);
      this.#fill(packer);
      if (packer.count === 0) break;
      this.#ctx.out.send(addressOf(target), packer.finish());
    }
  }

  /**
   * Fill the rest of a datagram (protocol.md §11.2): membership rumours first, but room for the
   * queued application broadcasts is held, up to a quarter, and they also get whatever is left.
   */
  #fill(packer: Packer): void {
    const limit = this.#retransmitLimit();
    const user = this.#userQueue;
    // What the broadcasts need: their bytes plus the packer's cost per part (free − room).
    const need = user.size > 0 ? user.bytes + user.size * (packer.free - packer.room()) : 0;
    const reserved = Math.min(Math.floor(packer.free / 4), need);
    this.#queue.take(packer, reserved, limit);
    if (this.#userQueue.size > 0) this.#userQueue.take(packer, 0, limit);
  }

  gossip(key: string, rumour: Alive | Suspect | Dead, settle?: () => void): void {
    this.#queue.enqueue(key, this.#ctx.codec.encode(rumour), settle);
  }

  #retransmitLimit(): number {
    return retransmitLimit(this.#ctx.cfg.retransmitMult, this.#ctx.table.size);
  }

  /**
   * Send `message` to a member or address, filling the rest of the datagram with queued
   * rumours when `piggyback` (protocol.md §11.3). `member` is the member the message is for,
   * if we know one; `sender`, the source of the datagram this answers. Rumours ride only to
   * a verified address: that sender itself, or a member we know at that very address. A reply
   * to an address a packet merely claims stays bare, so it cannot be turned into a flood at a
   * third party (protocol.md §20).
   */
  sendTo(
    to: MemberRecord | PeerAddress,
    message: Message,
    piggyback: boolean,
    member?: MemberRecord,
    sender?: PeerAddress,
  ): void {
    const target = "name" in to ? to : member;
    const address = "name" in to ? addressOf(to) : to;
    const packer = packerFor(this.#ctx, target);
    packer.add(this.#ctx.codec.encode(message));
    const verified = (sender !== undefined && sameAddress(sender, address)) ||
      (target !== undefined && sameAddress(target, address));
    if (piggyback && verified && (this.#queue.size > 0 || this.#userQueue.size > 0)) {
      this.#fill(packer);
    }
    this.#ctx.out.send(address, packer.finish());
  }
}
