/**
 * Infection-style dissemination (spec §11): rumours queued with a transmit limit, piggy-backed
 * on every datagram we send and pushed to a few random members every gossip interval, packed
 * so that no datagram exceeds `udpBufferSize`. Application broadcasts have their own queue and
 * a reserved share of every packet.
 *
 * @module
 */

import type { PeerAddress } from "./address.ts";
import { BroadcastQueue, retransmitLimit } from "./broadcasts.ts";
import { addressOf, type Context } from "./context.ts";
import { isActive, type MemberRecord } from "./member.ts";
import type { Alive, Dead, Message, Suspect } from "./messages.ts";

/** Most parts in one compound (0.2.2 mis-parses 128 and more). */
export const MAX_COMPOUND_PARTS = 127;

/** The rumour queues and the packet packer. */
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
    this.#ctx.out.schedule({ kind: "gossip", token: ++this.#gossipToken }, initialDelay);
  }

  /** Is `token` the current gossip ticker's? */
  isCurrent(token: number): boolean {
    return token === this.#gossipToken;
  }

  readonly #queue = new BroadcastQueue();

  /** Application broadcasts, kept apart so membership gossip cannot starve them. */
  readonly #userQueue = new BroadcastQueue();

  #userBroadcastId = 0;

  #gossipToken = 0;

  /**
   * Gossip `payload` to the cluster, piggy-backed like membership rumours but from a share of
   * every packet reserved for it. As memberlist's delegate broadcasts, it is sent
   * `retransmitMult · ceil(log10(n + 1))` times by this member only; receivers do not relay.
   */
  broadcast(payload: Uint8Array): void {
    const room = this.#ctx.cfg.udpBufferSize - this.#ctx.cfg.packetOverhead - 8;
    if (payload.length === 0 || payload.length > room) {
      throw new RangeError(`a broadcast holds 1 to ${room} bytes, got ${payload.length}`);
    }
    const bytes = this.#ctx.codec.encode({ type: "user", payload });
    this.#userQueue.enqueue(`u${this.#userBroadcastId++}`, bytes);
  }

  onGossipTick(): void {
    this.#ctx.out.schedule(
      { kind: "gossip", token: this.#gossipToken },
      this.#ctx.cfg.gossipInterval,
    );
    if (this.#queue.size === 0 && this.#userQueue.size === 0) return;
    const now = this.#ctx.now();
    const deadWindow = this.#ctx.cfg.gossipToTheDeadTime;
    const targets = this.#ctx.table.sample(
      this.#ctx.cfg.gossipNodes,
      (m) =>
        m !== this.#ctx.self &&
        (isActive(m.state) || (m.state === "dead" && now - m.stateChangedAt < deadWindow)),
    );
    for (const target of targets) {
      const crc = this.crcFor(target);
      const { header, perPart } = this.framing(crc);
      const room = this.#ctx.cfg.udpBufferSize - this.#ctx.cfg.packetOverhead - header;
      const parts = this.#rumoursFor(room, perPart, MAX_COMPOUND_PARTS);
      if (parts.length === 0) break;
      this.#ctx.out.send(addressOf(target), this.#ctx.codec.frame(parts, { crc }));
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

  gossip(key: string, rumour: Alive | Suspect | Dead, settle?: () => void): void {
    this.#queue.enqueue(key, this.#ctx.codec.encode(rumour), settle);
  }

  #retransmitLimit(): number {
    return retransmitLimit(this.#ctx.cfg.retransmitMult, this.#ctx.table.size);
  }

  crcFor(member: MemberRecord | undefined): boolean {
    return this.#ctx.cfg.crcOutgoing && member !== undefined && member.vsn[1] >= 5;
  }

  /** Fixed bytes of a compound frame, and the extra bytes each part costs. */
  framing(crc: boolean): { header: number; perPart: number } {
    const two = this.#ctx.codec.overhead(2, { crc });
    const perPart = this.#ctx.codec.overhead(3, { crc }) - two;
    return { header: two - 2 * perPart, perPart };
  }

  /**
   * Send `message` to a member or address, filling the rest of the datagram with queued
   * rumours (piggy-backing, spec §11.3) without exceeding `udpBufferSize`.
   */
  sendTo(
    to: MemberRecord | PeerAddress,
    message: Message,
    piggyback: boolean,
    member?: MemberRecord,
  ): void {
    const target = "name" in to ? to : member;
    const address = "name" in to ? addressOf(to) : to;
    const crc = this.crcFor(target);
    const bytes = this.#ctx.codec.encode(message);
    const parts = [bytes];
    if (piggyback && (this.#queue.size > 0 || this.#userQueue.size > 0)) {
      const { header, perPart } = this.framing(crc);
      const room = this.#ctx.cfg.udpBufferSize - this.#ctx.cfg.packetOverhead - header - perPart -
        bytes.length;
      parts.push(
        ...this.#rumoursFor(room, perPart, MAX_COMPOUND_PARTS - 1),
      );
    }
    this.#ctx.out.send(address, this.#ctx.codec.frame(parts, { crc }));
  }
}
