/**
 * The stream (TCP) byte pipe that protocol code reads and writes, beside the datagram
 * transport. memberlist uses streams for full-state push/pull, the fallback TCP ping and
 * reliable user messages (protocol.md §6): each connection carries one request and at most one
 * response, then it is closed. The adapters live in `src/transport/`.
 *
 * Contract every adapter keeps:
 * - **Never keeps the process alive**: listeners and connections are unref'd.
 * - **One port for both transports**: a node listens for streams on the same host and port
 *   as its UDP socket (bind UDP first when the port is 0, then listen on the port it got).
 * - **Bytes are owned by the receiver**: a chunk returned by `read` is never reused, and a
 *   buffer passed to `write` may be reused once the promise settles.
 * - **Bounded memory**: an adapter buffers at most {@linkcode MAX_UNREAD_BYTES} of unread
 *   input per connection (a peer that floods is cut off: further reads see EOF), and
 *   protocol code bounds what it reads on top (see `stream_reader.ts`).
 * - **`close()` is idempotent** and never throws; it settles a pending `read` with `null`
 *   and rejects pending writes with {@linkcode StreamError} `closed`.
 * - **Peers that vanish**: a reset or half-closed connection reads as EOF (`null`); writing
 *   to it rejects with `closed` or `io`. A peer that stays silent is the caller's to time
 *   out (race the read against a deadline and `close()` the connection).
 * - **Idle connections cannot hold a listener's slots**: an accepted connection is *idle*
 *   until a `read` has returned bytes. One still idle after `headerTimeoutMs` is closed, and
 *   when `maxConnections` are open a new connection replaces the oldest idle one.
 *
 * @module
 */

import type { PeerAddress } from "../core/address.ts";

/** Unread input an adapter holds per connection before it cuts the peer off. */
export const MAX_UNREAD_BYTES = 32 * 1024 * 1024;
/**
 * Default cap on connections a listener keeps open at once. A connection beyond it takes the
 * place of the oldest idle one (no byte read yet); with none idle, it is closed at once.
 */
export const DEFAULT_MAX_CONNECTIONS = 256;
/** Default time an accepted connection has to deliver its first byte before it is closed. */
export const DEFAULT_HEADER_TIMEOUT_MS = 5000;

/** Why a stream operation failed. */
export type StreamErrorKind =
  /** A dial or a deadline ran out. */
  | "timeout"
  /** Nobody listens at the address (connection refused). */
  | "refused"
  /** The connection was already closed (locally, or reset by the peer). */
  | "closed"
  /** Any other I/O failure (unreachable network, bad address, ...). */
  | "io";

/**
 * A failure of the stream transport (not of the bytes in it: those are `DecodeError`s).
 *
 * @example
 * ```ts
 * import { StreamError } from "./conn.ts";
 * const err = new StreamError("refused", "connect 127.0.0.1:7946: connection refused");
 * console.log(err.kind); // "refused"
 * ```
 */
export class StreamError extends Error {
  /** The failure's category. */
  readonly kind: StreamErrorKind;
  /** Create a stream error of `kind`. */
  constructor(kind: StreamErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StreamError";
    this.kind = kind;
  }
}

/**
 * One open stream connection: a byte pipe in both directions.
 *
 * `read` and `write` may run at the same time, but reads must not overlap each other (nor
 * writes each other): protocol code reads and writes in turn anyway.
 */
export interface StreamConn {
  /** The peer's address (for an accepted connection, its ephemeral port). */
  readonly remote: PeerAddress;
  /** True once `close()` was called or the peer closed or reset the connection. */
  readonly closed: boolean;
  /**
   * The next chunk of bytes as it arrived (any size ≥ 1), or `null` at end of stream:
   * after the peer closed or reset the connection, or after `close()`. Never rejects,
   * except for overlapping calls (a programming error).
   */
  read(): Promise<Uint8Array | null>;
  /**
   * Write all of `bytes`, handling partial writes and backpressure; resolves once the
   * adapter has handed every byte to the OS. Rejects with {@linkcode StreamError} `closed`
   * or `io` when the connection is gone.
   */
  write(bytes: Uint8Array): Promise<void>;
  /** Close both directions. Idempotent; never rejects. */
  close(): Promise<void>;
}

/** Receives each accepted connection. The handler owns it and must close it. */
export type ConnectionHandler = (conn: StreamConn) => void;

/** What to listen on and where accepted connections go. */
export interface ListenOptions {
  /** IP literal to bind, the same as the UDP socket's. */
  readonly host: string;
  /** Port to bind, the same as the UDP socket's (0 lets the OS choose). */
  readonly port: number;
  /** Called for every accepted connection until the listener closes. */
  readonly onConnection: ConnectionHandler;
  /** Open accepted connections allowed at once; default {@linkcode DEFAULT_MAX_CONNECTIONS}. */
  readonly maxConnections?: number;
  /**
   * Close an accepted connection that has delivered no byte after this many ms; default
   * {@linkcode DEFAULT_HEADER_TIMEOUT_MS}, `Infinity` for never.
   */
  readonly headerTimeoutMs?: number;
}

/** Counters of a listener. */
export interface StreamListenerStats {
  /** Connections handed to the handler. */
  accepted: number;
  /** Connections closed at once: `maxConnections` were open and none of them idle. */
  rejected: number;
  /** Idle connections closed to make room for a new one. */
  evicted: number;
  /** Connections closed because they delivered no byte within `headerTimeoutMs`. */
  idleClosed: number;
  /** Accept failures and handlers that threw. */
  errors: number;
}

/** A bound stream listener. */
export interface StreamListener {
  /** The address actually bound. */
  readonly local: PeerAddress;
  /** Counters. */
  readonly stats: StreamListenerStats;
  /**
   * Stop accepting and close every accepted connection still open. Idempotent; the handler
   * is never called after it resolves.
   */
  close(): Promise<void>;
}

/** Something that can listen for and open stream connections: one per runtime adapter. */
export interface StreamBinder {
  /** A short name for logs: "deno-tcp", "bun-tcp", "node-tcp" or "memory". */
  readonly name: string;
  /** Listen. Rejects with `AddressInUseError` when the address is taken. */
  listen(options: ListenOptions): Promise<StreamListener>;
  /**
   * Open a connection to `to`, giving up after `timeoutMs`. Rejects with
   * {@linkcode StreamError}: `timeout`, `refused` or `io`.
   */
  dial(to: PeerAddress, timeoutMs: number): Promise<StreamConn>;
}
