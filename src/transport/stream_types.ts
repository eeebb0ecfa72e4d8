/**
 * The stream (TCP) transport: re-exports the byte-pipe interface of `src/wire/conn.ts`
 * (which states the contract every adapter keeps) and holds the listener pieces the adapters
 * share. Adapters exist for `Deno.listen`/`Deno.connect`, `Bun.listen`/`Bun.connect`,
 * `node:net` and an in-memory network.
 *
 * @module
 */

import {
  type ConnectionHandler,
  DEFAULT_HEADER_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
  type ListenOptions,
  type StreamConn,
  type StreamListenerStats,
} from "../wire/conn.ts";

export {
  type ConnectionHandler,
  DEFAULT_HEADER_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
  type ListenOptions,
  MAX_UNREAD_BYTES,
  type StreamBinder,
  type StreamConn,
  StreamError,
  type StreamErrorKind,
  type StreamListener,
  type StreamListenerStats,
} from "../wire/conn.ts";

/** Fresh zeroed listener counters. */
export function newListenerStats(): StreamListenerStats {
  return { accepted: 0, rejected: 0, evicted: 0, idleClosed: 0, errors: 0 };
}

/** An accepted connection that reports when it closes and when its first bytes are read. */
export interface TrackedConn extends StreamConn {
  /** Called once when the connection closes (set by the listener). */
  onClose: (() => void) | undefined;
  /** Called once when a `read` first returns bytes (set by the listener). */
  onFirstByte: (() => void) | undefined;
}

/** `read`'s result, reporting the connection's first bytes to its `onFirstByte`. */
export function noteFirstByte(
  conn: TrackedConn,
  read: Promise<Uint8Array | null>,
): Promise<Uint8Array | null> {
  if (conn.onFirstByte === undefined) return read;
  return read.then((chunk) => {
    const hook = conn.onFirstByte;
    if (chunk !== null && hook !== undefined) {
      conn.onFirstByte = undefined;
      hook();
    }
    return chunk;
  });
}

/** Runs `fn` after `ms`; the returned function cancels it. */
export type Timer = (ms: number, fn: () => void) => () => void;

/** A {@linkcode Timer} on the runtime's timers, unref'd. */
export const realTimer: Timer = (ms, fn) => {
  const t = setTimeout(fn, Math.max(0, ms));
  (t as { unref?: () => void }).unref?.();
  return () => clearTimeout(t);
};

/**
 * The accept policy every stream listener shares. A connection is admitted and tracked until
 * it closes, and counts as idle until a read returns its first bytes. When `maxConnections`
 * are open, a newcomer closes the oldest idle connection and takes its place (`evicted`), or
 * is closed at once when none is idle (`rejected`). A connection still idle after
 * `headerTimeoutMs` is closed (`idleClosed`). A handler that throws closes its connection.
 */
export class ConnectionTracker<C extends TrackedConn> {
  /** Counters. */
  readonly stats: StreamListenerStats = newListenerStats();
  readonly #open = new Set<C>();
  /** Idle connections, oldest first, each with the cancel of its header deadline. */
  readonly #idle = new Map<C, () => void>();
  readonly #max: number;
  readonly #headerMs: number;
  readonly #timer: Timer;
  readonly #onConnection: ConnectionHandler;
  #closed = false;

  /** Track the connections of a listener opened with `options`. */
  constructor(options: ListenOptions, timer: Timer = realTimer) {
    this.#max = Math.max(1, options.maxConnections ?? DEFAULT_MAX_CONNECTIONS);
    this.#headerMs = options.headerTimeoutMs ?? DEFAULT_HEADER_TIMEOUT_MS;
    this.#timer = timer;
    this.#onConnection = options.onConnection;
  }

  /** True once {@linkcode ConnectionTracker.closeAll} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Connections open now. */
  get open(): number {
    return this.#open.size;
  }

  /** Admit `conn` (or close it, when the listener is closing or full of busy connections). */
  admit(conn: C): void {
    if (this.#closed) {
      void conn.close();
      return;
    }
    if (this.#open.size >= this.#max) {
      const oldest = this.#idle.keys().next();
      if (oldest.done) {
        this.stats.rejected++;
        void conn.close();
        return;
      }
      this.stats.evicted++;
      this.#forget(oldest.value);
      void oldest.value.close();
    }
    this.#open.add(conn);
    conn.onClose = () => this.#forget(conn);
    conn.onFirstByte = () => {
      this.#idle.get(conn)?.();
      this.#idle.delete(conn);
    };
    const cancel = Number.isFinite(this.#headerMs)
      ? this.#timer(this.#headerMs, () => {
        if (!this.#idle.has(conn)) return;
        this.stats.idleClosed++;
        this.#forget(conn);
        void conn.close();
      })
      : () => {};
    this.#idle.set(conn, cancel);
    this.stats.accepted++;
    try {
      this.#onConnection(conn);
    } catch {
      this.stats.errors++;
      void conn.close();
    }
  }

  /** Stop admitting and close every open connection. */
  async closeAll(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#open].map((c) => c.close()));
  }

  #forget(conn: C): void {
    this.#open.delete(conn);
    this.#idle.get(conn)?.();
    this.#idle.delete(conn);
  }
}
