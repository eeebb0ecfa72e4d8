/**
 * Stream transport for Deno over `Deno.listen` / `Deno.connect` (stable; `--allow-net`).
 *
 * Quirks handled here: `write` can be partial, so writes loop until every byte is out;
 * `read` fills a caller buffer and returns a count, so chunks are copied out of one reused
 * buffer; a read pending on a closed connection rejects (`BadResource`, `Interrupted`), which
 * is end of stream here; `close()` twice throws, so closing is guarded; `connect` takes an
 * `AbortSignal`, which carries the dial timeout (from an unref'd timer). Listener and
 * connections are unref'd, accepted ones included.
 *
 * @module
 */

import { formatAddress, type PeerAddress } from "../core/address.ts";
import {
  ConnectionTracker,
  type ListenOptions,
  type StreamBinder,
  type StreamConn,
  StreamError,
  type StreamListener,
  type StreamListenerStats,
  type TrackedConn,
} from "./stream_types.ts";
import { bindError, plainHost, unrefDelay } from "./_net.ts";

/** The slice of Deno's network address we use. */
interface DenoNetAddr {
  readonly hostname: string;
  readonly port: number;
}

/** The slice of `Deno.TcpConn` we use. */
interface DenoTcpConn {
  readonly remoteAddr: DenoNetAddr;
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  close(): void;
  unref?(): void;
  setNoDelay?(noDelay?: boolean): void;
}

/** The slice of `Deno.TcpListener` we use. */
interface DenoTcpListener {
  readonly addr: DenoNetAddr;
  accept(): Promise<DenoTcpConn>;
  close(): void;
  unref?(): void;
}

/** The slice of the `Deno` namespace we use. */
interface DenoTcpNamespace {
  listen(options: { hostname: string; port: number; transport?: "tcp" }): DenoTcpListener;
  connect(options: { hostname: string; port: number; signal?: AbortSignal }): Promise<DenoTcpConn>;
}

const READ_BUFFER = 64 * 1024;
/** Error names that mean the listener is gone for good: the accept loop stops. */
const FATAL_ACCEPT_ERRORS = new Set(["BadResource", "Interrupted"]);

function deno(): DenoTcpNamespace {
  const d = (globalThis as { Deno?: Partial<DenoTcpNamespace> }).Deno;
  if (typeof d?.listen !== "function" || typeof d?.connect !== "function") {
    throw new Error("Deno.listen is not available: the deno-tcp adapter runs only under Deno");
  }
  return d as DenoTcpNamespace;
}

/**
 * Listens and dials TCP with Deno's native API. Everything is unref'd.
 *
 * @example
 * ```ts
 * import { denoStream } from "./deno_tcp.ts";
 * const listener = await denoStream.listen({
 *   host: "127.0.0.1",
 *   port: 0,
 *   onConnection: (conn) => void conn.close(),
 * });
 * const conn = await denoStream.dial(listener.local, 1000);
 * await conn.read(); // null: the acceptor closed it
 * await listener.close();
 * ```
 */
export const denoStream: StreamBinder = {
  name: "deno-tcp",
  listen(options: ListenOptions): Promise<StreamListener> {
    return Promise.resolve().then(() => new DenoListener(options));
  },
  async dial(to: PeerAddress, timeoutMs: number): Promise<StreamConn> {
    const d = deno();
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), Math.max(0, timeoutMs)) as unknown as {
      unref?: () => void;
    };
    timer.unref?.();
    try {
      const conn = await d.connect({ hostname: to.host, port: to.port, signal: abort.signal });
      return new DenoConn(conn, to);
    } catch (error) {
      if (abort.signal.aborted) {
        throw new StreamError("timeout", `connect ${formatAddress(to)} timed out`, {
          cause: error,
        });
      }
      const name = (error as Error)?.name;
      if (name === "ConnectionRefused" || name === "ConnectionReset") {
        throw new StreamError("refused", `connect ${formatAddress(to)}: connection refused`, {
          cause: error,
        });
      }
      throw new StreamError("io", `connect ${formatAddress(to)}: ${error}`, { cause: error });
    } finally {
      clearTimeout(timer as unknown as ReturnType<typeof setTimeout>);
    }
  },
};

class DenoListener implements StreamListener {
  readonly local: PeerAddress;
  readonly #listener: DenoTcpListener;
  readonly #tracker: ConnectionTracker<DenoConn>;
  #closed = false;
  #closing: Promise<void> | undefined;
  #loop: Promise<void> = Promise.resolve();

  constructor(options: ListenOptions) {
    try {
      this.#listener = deno().listen({ hostname: options.host, port: options.port });
    } catch (error) {
      throw bindError(error, options.host, options.port);
    }
    this.#listener.unref?.();
    this.#tracker = new ConnectionTracker(options);
    this.local = { host: this.#listener.addr.hostname, port: this.#listener.addr.port };
    this.#loop = this.#acceptLoop();
  }

  get stats(): StreamListenerStats {
    return this.#tracker.stats;
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    this.#closed = true;
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    await this.#tracker.closeAll();
    // The socket is released only once the pending accept has settled (Deno's docs): wait,
    // so that the port is really free when close() resolves. The accept op is unref'd, so a
    // short ref'd timer keeps the event loop alive meanwhile (and bounds the wait).
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#loop.catch(() => {}),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, 200))),
    ]);
    clearTimeout(timer);
  }

  async #acceptLoop(): Promise<void> {
    let failures = 0;
    while (!this.#closed) {
      let raw: DenoTcpConn;
      try {
        raw = await this.#listener.accept();
        failures = 0;
      } catch (error) {
        if (this.#closed || FATAL_ACCEPT_ERRORS.has((error as Error)?.name)) return;
        this.stats.errors++; // e.g. EMFILE: back off instead of spinning
        await unrefDelay(Math.min(2 ** failures++, 1000));
        continue;
      }
      const remote = { host: plainHost(raw.remoteAddr.hostname), port: raw.remoteAddr.port };
      this.#tracker.admit(new DenoConn(raw, remote));
    }
  }
}

class DenoConn implements TrackedConn {
  readonly remote: PeerAddress;
  onClose: (() => void) | undefined;
  onFirstByte: (() => void) | undefined;
  readonly #conn: DenoTcpConn;
  readonly #buffer = new Uint8Array(READ_BUFFER);
  #closed = false;
  #eof = false;
  #reading = false;

  constructor(conn: DenoTcpConn, remote: PeerAddress) {
    this.#conn = conn;
    this.remote = remote;
    conn.unref?.();
    try {
      conn.setNoDelay?.(true);
    } catch {
      // not fatal: only latency
    }
  }

  get closed(): boolean {
    return this.#closed || this.#eof;
  }

  async read(): Promise<Uint8Array | null> {
    if (this.#reading) throw new Error("overlapping read on a stream connection");
    if (this.#closed || this.#eof) return null;
    this.#reading = true;
    try {
      const n = await this.#conn.read(this.#buffer);
      if (n === null || this.#closed) {
        this.#eof = true;
        return null;
      }
      const hook = n > 0 ? this.onFirstByte : undefined;
      if (hook) {
        this.onFirstByte = undefined;
        hook();
      }
      return this.#buffer.slice(0, n);
    } catch {
      this.#eof = true; // reset, or closed under us: end of stream
      return null;
    } finally {
      this.#reading = false;
    }
  }

  async write(bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.length) {
      if (this.#closed) throw new StreamError("closed", "write on a closed connection");
      let n: number;
      try {
        n = await this.#conn.write(bytes.subarray(at));
      } catch (error) {
        const name = (error as Error)?.name;
        const closed = this.#closed || name === "BadResource" || name === "BrokenPipe" ||
          name === "ConnectionReset";
        throw new StreamError(closed ? "closed" : "io", `write failed: ${error}`, {
          cause: error,
        });
      }
      at += n;
    }
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed underneath us
    }
    this.onClose?.();
    return Promise.resolve();
  }
}
