/**
 * What the datagram adapters share: the transport shell (counters, the closed flag, one
 * close, receive accounting) and an ordered send pump.
 *
 * @module
 */

import type { PeerAddress } from "../core/address.ts";
import {
  type DatagramHandler,
  type DatagramTransport,
  newTransportStats,
  type TransportStats,
} from "./types.ts";

/** Datagrams waiting to be sent beyond this are dropped (and counted), as UDP would. */
export const MAX_QUEUED_SENDS = 4096;

/**
 * A datagram transport without its socket. After `close()` sends count as errors and nothing
 * is delivered; the subclass sends and releases the socket.
 */
export abstract class DatagramShell implements DatagramTransport {
  abstract readonly local: PeerAddress;
  readonly stats: TransportStats = newTransportStats();
  readonly #onDatagram: DatagramHandler;
  readonly #catchHandler: boolean;
  #closed = false;
  #closing: Promise<void> | undefined;

  /**
   * A shell delivering to `onDatagram`. With `catchHandler` (sockets) a throwing handler is
   * counted as a receive error; without it (the in-memory network) the error propagates.
   */
  constructor(onDatagram: DatagramHandler, catchHandler = true) {
    this.#onDatagram = onDatagram;
    this.#catchHandler = catchHandler;
  }

  /** True once `close()` was called. */
  protected get closed(): boolean {
    return this.#closed;
  }

  send(to: PeerAddress, bytes: Uint8Array): void {
    if (this.#closed) this.stats.sendErrors++;
    else this.transmit(to, bytes);
  }

  close(): Promise<void> {
    if (!this.#closing) {
      this.#closed = true;
      this.#closing = this.release();
    }
    return this.#closing;
  }

  /** Send one datagram of an open transport (counting it in `stats`). */
  protected abstract transmit(to: PeerAddress, bytes: Uint8Array): void;

  /** Release the socket, once; `closed` is already true. */
  protected abstract release(): Promise<void>;

  /** Count a received datagram and hand it to the handler, unless closed. */
  protected deliver(bytes: Uint8Array, from: PeerAddress): void {
    if (this.#closed) return;
    this.stats.packetsIn++;
    this.stats.bytesIn += bytes.byteLength;
    if (!this.#catchHandler) {
      this.#onDatagram(bytes, from);
      return;
    }
    try {
      this.#onDatagram(bytes, from);
    } catch {
      this.stats.receiveErrors++; // a throwing handler must not break the socket
    }
  }
}

/**
 * Sends queued datagrams one at a time, each once the previous one has settled, so they leave
 * in order (sends fired together may leave out of order in Deno). Counts every outcome.
 */
export class SendPump {
  readonly #stats: TransportStats;
  readonly #send: (to: PeerAddress, bytes: Uint8Array) => Promise<number>;
  #queue: { to: PeerAddress; bytes: Uint8Array }[] = [];
  #pumping = false;
  #pump: Promise<void> = Promise.resolve();

  /** A pump over `send`, which resolves with the bytes sent. */
  constructor(
    stats: TransportStats,
    send: (to: PeerAddress, bytes: Uint8Array) => Promise<number>,
  ) {
    this.#stats = stats;
    this.#send = send;
  }

  /** Queue one datagram (dropped and counted when {@linkcode MAX_QUEUED_SENDS} wait). */
  push(to: PeerAddress, bytes: Uint8Array): void {
    if (this.#queue.length >= MAX_QUEUED_SENDS) {
      this.#stats.sendErrors++;
      return;
    }
    this.#queue.push({ to, bytes });
    if (!this.#pumping) {
      this.#pumping = true;
      this.#pump = this.#run();
    }
  }

  /** Resolves once every queued datagram has left or failed. */
  idle(): Promise<void> {
    return this.#pump;
  }

  async #run(): Promise<void> {
    for (let item = this.#queue.shift(); item; item = this.#queue.shift()) {
      try {
        const sent = await this.#send(item.to, item.bytes);
        this.#stats.packetsOut++;
        this.#stats.bytesOut += sent;
      } catch {
        this.#stats.sendErrors++;
      }
    }
    this.#pumping = false;
  }
}
