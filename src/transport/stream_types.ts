/**
 * The stream (TCP) transport: re-exports the byte-pipe interface of `src/wire/conn.ts`
 * (which states the contract every adapter keeps) and holds the listener pieces the adapters
 * share. Adapters exist for `Deno.listen`/`Deno.connect`, `Bun.listen`/`Bun.connect`,
 * `node:net` and an in-memory network.
 *
 * @module
 */

import type { ConnectionHandler, StreamConn, StreamListenerStats } from "../wire/conn.ts";

export {
  type ConnectionHandler,
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
  return { accepted: 0, rejected: 0, errors: 0 };
}

/** An accepted connection that reports when it closes. */
export interface TrackedConn extends StreamConn {
  /** Called once when the connection closes (set by the listener). */
  onClose: (() => void) | undefined;
}

/**
 * The accept policy every stream listener shares: refuse (close) a connection when the
 * listener is closing or already holds `max` open ones; otherwise track it until it closes and
 * hand it to `onConnection`, closing it if the handler throws.
 */
export function admitConnection<C extends TrackedConn>(
  conn: C,
  listener: {
    readonly closed: boolean;
    readonly open: Set<C>;
    readonly max: number;
    readonly stats: StreamListenerStats;
  },
  onConnection: ConnectionHandler,
): void {
  if (listener.closed || listener.open.size >= listener.max) {
    if (!listener.closed) listener.stats.rejected++;
    void conn.close();
    return;
  }
  listener.open.add(conn);
  conn.onClose = () => listener.open.delete(conn);
  listener.stats.accepted++;
  try {
    onConnection(conn);
  } catch {
    listener.stats.errors++;
    void conn.close();
  }
}
