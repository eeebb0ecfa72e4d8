/**
 * Stream transport for Bun over `Bun.listen` / `Bun.connect`.
 *
 * Bun is reached through `globalThis` with a minimal local {@linkcode BunTcpLike} shape,
 * because the project is type-checked by Deno, which has no Bun types.
 *
 * Bun's sockets are callback-driven, so this adapter turns them into pull-style
 * {@linkcode StreamConn}s: received chunks are copied (Bun may reuse its `Buffer`) into a
 * {@linkcode ChunkQueue}, which pauses the socket while too many bytes wait unread. `write`
 * returns how many bytes Bun took (-1 once closed); the rest waits for `drain`. `end` and
 * `close` both mean end of stream (a client sees `close` without `end` after a half-close).
 * `Bun.connect` has no timeout, so the dial races an unref'd timer and a socket that connects
 * too late is terminated. Listener and sockets are unref'd.
 *
 * @module
 */

import { formatAddress, type PeerAddress } from "../core/address.ts";
import {
  ConnectionTracker,
  type ListenOptions,
  noteFirstByte,
  type StreamBinder,
  type StreamConn,
  StreamError,
  type StreamListener,
  type StreamListenerStats,
  type TrackedConn,
} from "./stream_types.ts";
import { ChunkQueue } from "./_chunk_queue.ts";
import { bindError, plainHost } from "./_net.ts";

/** Handlers of a Bun TCP socket; `data` carries our per-socket state. */
interface BunSocketHandlers {
  open?(socket: BunSocket): void;
  data(socket: BunSocket, data: Uint8Array): void;
  drain(socket: BunSocket): void;
  end(socket: BunSocket): void;
  close(socket: BunSocket, error?: unknown): void;
  error(socket: BunSocket, error: unknown): void;
  connectError?(socket: BunSocket, error: unknown): void;
}

/** The slice of Bun's TCP socket we use. */
interface BunSocket {
  data: BunConn | undefined;
  readonly remoteAddress: string;
  readonly remotePort?: number;
  write(data: Uint8Array): number;
  end(): void;
  terminate(): void;
  pause?(): void;
  resume?(): void;
  unref(): void;
  setNoDelay?(noDelay?: boolean): boolean;
}

/** The slice of Bun's TCP server we use. */
interface BunServer {
  readonly port: number;
  readonly hostname?: string;
  stop(closeActiveConnections?: boolean): void;
  unref(): void;
}

/** The slice of the `Bun` global we use. */
interface BunTcpLike {
  listen(options: {
    hostname: string;
    port: number;
    binaryType: "uint8array";
    socket: BunSocketHandlers;
  }): BunServer;
  connect(options: {
    hostname: string;
    port: number;
    binaryType: "uint8array";
    data: BunConn | undefined;
    socket: BunSocketHandlers;
  }): Promise<BunSocket>;
}

/** How long a closed socket may take to flush before it is terminated. */
const CLOSE_GRACE_MS = 2000;

function bun(): BunTcpLike {
  const b = (globalThis as { Bun?: Partial<BunTcpLike> }).Bun;
  if (typeof b?.listen !== "function" || typeof b?.connect !== "function") {
    throw new Error("Bun.listen is not available: the bun-tcp adapter runs only under Bun");
  }
  return b as BunTcpLike;
}

/** Socket handlers shared by listeners and dials: they forward to the socket's BunConn. */
const forward: BunSocketHandlers = {
  data: (s, data) => s.data?.onData(data),
  drain: (s) => s.data?.onDrain(),
  end: (s) => s.data?.onEnd(),
  close: (s) => s.data?.onEnd(),
  error: (s) => s.data?.onEnd(),
};

/**
 * Listens and dials TCP with Bun's native API. Everything is unref'd.
 *
 * @example
 * ```ts
 * import { bunStream } from "./bun_tcp.ts";
 * const listener = await bunStream.listen({
 *   host: "127.0.0.1",
 *   port: 0,
 *   onConnection: (conn) => void conn.close(),
 * });
 * const conn = await bunStream.dial(listener.local, 1000);
 * await conn.read(); // null: the acceptor closed it
 * await listener.close();
 * ```
 */
export const bunStream: StreamBinder = {
  name: "bun-tcp",
  listen(options: ListenOptions): Promise<StreamListener> {
    return Promise.resolve().then(() => new BunListener(options));
  },
  dial(to: PeerAddress, timeoutMs: number): Promise<StreamConn> {
    const b = bun();
    return new Promise((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => {
        if (done) return;
        done = true;
        reject(new StreamError("timeout", `connect ${formatAddress(to)} timed out`));
      }, Math.max(0, timeoutMs)) as unknown as { unref?: () => void };
      timer.unref?.();
      const stop = () => clearTimeout(timer as unknown as ReturnType<typeof setTimeout>);
      b.connect({
        hostname: to.host,
        port: to.port,
        binaryType: "uint8array",
        data: undefined,
        socket: {
          ...forward,
          // Wrap at once, so no byte can arrive before the connection has its state.
          open: (socket) => {
            socket.unref();
            new BunConn(socket, to);
          },
          connectError: () => {},
        },
      }).then(
        (socket) => {
          stop();
          const conn = socket.data ?? new BunConn(socket, to);
          if (done) {
            void conn.close(); // connected after the dial gave up
            return;
          }
          done = true;
          resolve(conn);
        },
        (error) => {
          stop();
          if (done) return;
          done = true;
          const code = (error as { code?: string })?.code;
          const kind = code === "ECONNREFUSED" ? "refused" : "io";
          reject(
            new StreamError(kind, `connect ${formatAddress(to)}: ${code ?? error}`, {
              cause: error,
            }),
          );
        },
      );
    });
  },
};

class BunListener implements StreamListener {
  readonly local: PeerAddress;
  readonly #server: BunServer;
  readonly #tracker: ConnectionTracker<BunConn>;
  #closed = false;

  constructor(options: ListenOptions) {
    this.#tracker = new ConnectionTracker(options);
    try {
      this.#server = bun().listen({
        hostname: options.host,
        port: options.port,
        binaryType: "uint8array",
        socket: {
          ...forward,
          open: (socket) => {
            socket.unref();
            const remote = { host: plainHost(socket.remoteAddress), port: socket.remotePort ?? 0 };
            this.#tracker.admit(new BunConn(socket, remote));
          },
        },
      });
    } catch (error) {
      throw bindError(error, options.host, options.port);
    }
    this.#server.unref();
    this.local = { host: options.host, port: this.#server.port };
  }

  get stats(): StreamListenerStats {
    return this.#tracker.stats;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#tracker.closeAll();
    try {
      this.#server.stop(true);
    } catch {
      // already stopped
    }
  }
}

interface PendingWrite {
  bytes: Uint8Array;
  at: number;
  resolve(): void;
  reject(error: StreamError): void;
}

class BunConn implements TrackedConn {
  readonly remote: PeerAddress;
  onClose: (() => void) | undefined;
  onFirstByte: (() => void) | undefined;
  readonly #socket: BunSocket;
  readonly #queue: ChunkQueue;
  #eof = false;
  #closed = false;
  #writes: PendingWrite[] = [];

  constructor(socket: BunSocket, remote: PeerAddress) {
    this.#socket = socket;
    this.remote = remote;
    this.#queue = new ChunkQueue({
      pause: socket.pause && (() => socket.pause!()),
      resume: () => socket.resume?.(),
      onOverflow: () => void this.close(),
    });
    socket.data = this;
    try {
      socket.setNoDelay?.(true);
    } catch {
      // not fatal: only latency
    }
  }

  get closed(): boolean {
    return this.#closed || this.#eof;
  }

  read(): Promise<Uint8Array | null> {
    return noteFirstByte(this, this.#queue.read());
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.#closed || this.#eof) {
      return Promise.reject(new StreamError("closed", "write on a closed connection"));
    }
    if (bytes.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      // Bun may keep a reference to what it could not send yet: hand it a private copy.
      this.#writes.push({ bytes: bytes.slice(), at: 0, resolve, reject });
      if (this.#writes.length === 1) this.onDrain();
    });
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#queue.clear();
    const unsent = this.#writes.length > 0;
    this.#failWrites("closed", "connection closed before the write finished");
    try {
      if (unsent) this.#socket.terminate();
      else {
        this.#socket.end();
        const timer = setTimeout(() => {
          if (this.#eof) return; // closed by the peer in the meantime
          try {
            this.#socket.terminate();
          } catch {
            // already gone
          }
        }, CLOSE_GRACE_MS) as unknown as { unref?: () => void };
        timer.unref?.();
      }
    } catch {
      // already closed underneath us
    }
    this.onClose?.();
    return Promise.resolve();
  }

  /** @internal Bun delivered bytes. */
  onData(data: Uint8Array): void {
    if (this.#closed || this.#eof) return;
    this.#queue.push(new Uint8Array(data)); // a private copy (Bun may reuse its Buffer)
  }

  /** @internal The socket can take more bytes: continue pending writes in order. */
  onDrain(): void {
    while (this.#writes.length > 0) {
      const w = this.#writes[0];
      let n: number;
      try {
        n = this.#socket.write(w.bytes.subarray(w.at));
      } catch (error) {
        this.#failWrites("io", `write failed: ${error}`);
        return;
      }
      if (n < 0) {
        this.#eof = true;
        this.#queue.end();
        this.#failWrites("closed", "write on a closed connection");
        return;
      }
      w.at += n;
      if (w.at < w.bytes.length) return; // the rest waits for the next drain
      this.#writes.shift();
      w.resolve();
    }
  }

  /** @internal The peer ended or reset the connection, or the socket closed. */
  onEnd(): void {
    if (this.#eof) return;
    this.#eof = true;
    this.#queue.end();
    this.#failWrites("closed", "connection closed by the peer");
    if (!this.#closed) this.onClose?.();
  }

  #failWrites(kind: "closed" | "io", message: string): void {
    const writes = this.#writes;
    this.#writes = [];
    for (const w of writes) w.reject(new StreamError(kind, message));
  }
}
