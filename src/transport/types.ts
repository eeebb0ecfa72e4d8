/**
 * The abstract datagram transport: the only I/O a SWIM node needs. Adapters exist for
 * `Deno.listenDatagram`, `Bun.udpSocket`, `node:dgram` and an in-memory network.
 *
 * @module
 */

import type { PeerAddress } from "../core/address.ts";

/** Called for each datagram received. `bytes` is owned by the callee (not reused). */
export type DatagramHandler = (bytes: Uint8Array, from: PeerAddress) => void;

/**
 * A bound datagram socket.
 *
 * Contract: `send` never throws and never blocks (errors are counted in
 * {@linkcode DatagramTransport.stats} and dropped, as UDP would drop them); the handler
 * passed at bind time is never called after `close()` resolves; a transport never keeps the
 * process alive on its own (sockets are unref'd), and `close()` is idempotent.
 */
export interface DatagramTransport {
  /** The address actually bound (port resolved when 0 was asked for). */
  readonly local: PeerAddress;
  /** Send one datagram, fire and forget. */
  send(to: PeerAddress, bytes: Uint8Array): void;
  /** Release the socket. Safe to call more than once. */
  close(): Promise<void>;
  /** Counters for the socket's traffic. */
  readonly stats: TransportStats;
}

/** Traffic counters kept by every transport. */
export interface TransportStats {
  /** Datagrams handed to the OS (or network). */
  packetsOut: number;
  /** Bytes handed to the OS (or network). */
  bytesOut: number;
  /** Datagrams received. */
  packetsIn: number;
  /** Bytes received. */
  bytesIn: number;
  /** Sends that failed locally (closed socket, oversize, bad address). */
  sendErrors: number;
  /** Receive-side failures (socket errors, a throwing handler). */
  receiveErrors: number;
}

/** What to bind and where to deliver received datagrams. */
export interface BindOptions {
  /** IP literal to bind, e.g. "127.0.0.1" or "0.0.0.0". */
  readonly host: string;
  /** Port to bind; 0 lets the OS choose. */
  readonly port: number;
  /** Receives every datagram until close. */
  readonly onDatagram: DatagramHandler;
}

/** Something that can bind datagram sockets: one per runtime adapter. */
export interface DatagramBinder {
  /** A short name for logs: "deno", "bun", "node" or "memory". */
  readonly name: string;
  /** Bind a socket. Rejects with a clear error when the address is in use. */
  bind(options: BindOptions): Promise<DatagramTransport>;
}

/** Fresh zeroed counters. */
export function newTransportStats(): TransportStats {
  return {
    packetsOut: 0,
    bytesOut: 0,
    packetsIn: 0,
    bytesIn: 0,
    sendErrors: 0,
    receiveErrors: 0,
  };
}

/** Thrown by `bind` when the address is taken. */
export class AddressInUseError extends Error {
  /** Create the error for `host:port`. */
  constructor(host: string, port: number, options?: { cause?: unknown }) {
    super(`address ${host}:${port} is already in use`, options);
    this.name = "AddressInUseError";
  }
}
