/**
 * An in-memory stream network, the stream counterpart of {@linkcode MemoryNetwork}. Bytes are
 * delivered in order after a configurable latency, optionally cut into small chunks (to
 * exercise reassembly), through a {@linkcode Scheduler}: a `VirtualScheduler` makes it
 * deterministic for the simulator, a `RealScheduler` (the default) connects nodes in one
 * process without sockets. Partitions black-hole traffic like a real network: dials time out
 * and data sent across is lost (the reader's deadline fires).
 *
 * @module
 */

import { formatAddress, type PeerAddress } from "../core/address.ts";
import { RealScheduler, type Scheduler } from "./scheduler.ts";
import {
  ConnectionTracker,
  type ListenOptions,
  noteFirstByte,
  type StreamBinder,
  type StreamConn,
  StreamError,
  type StreamListener,
  type Timer,
  type TrackedConn,
} from "./stream_types.ts";
import { AddressInUseError } from "./types.ts";
import { ChunkQueue } from "./_chunk_queue.ts";

/** Options of a {@linkcode MemoryStreamNetwork}. */
export interface MemoryStreamNetworkOptions {
  /** Clock and timers (default: real time). */
  readonly scheduler?: Scheduler;
  /** One-way latency in ms for connection setup and data (default 0). */
  readonly latency?: number;
  /** Deliver writes in chunks of at most this many bytes (default: whole writes). */
  readonly chunkSize?: number;
}

interface Endpoint {
  readonly local: PeerAddress;
  readonly tracker: ConnectionTracker<MemoryConn>;
}

/**
 * A simulated network of stream listeners and connections.
 *
 * @example
 * ```ts
 * import { MemoryStreamNetwork } from "./memory_stream.ts";
 * const net = new MemoryStreamNetwork({ latency: 1 });
 * const listener = net.listen({
 *   host: "10.0.0.1",
 *   port: 7946,
 *   onConnection: async (conn) => {
 *     await conn.write((await conn.read())!); // echo one chunk
 *     await conn.close();
 *   },
 * });
 * const conn = await net.dial("10.0.0.2", { host: "10.0.0.1", port: 7946 }, 1000);
 * await conn.write(new Uint8Array([1, 2, 3]));
 * await conn.read(); // Uint8Array [1, 2, 3]
 * await listener.close();
 * ```
 */
export class MemoryStreamNetwork {
  readonly #listeners = new Map<string, Endpoint>();
  readonly #scheduler: Scheduler;
  readonly #latency: number;
  readonly #chunkSize: number;
  readonly #groups = new Map<string, number>();
  #nextEphemeral = 50_000;
  /** Dials that connected, were refused, or timed out. */
  readonly counts: { connected: number; refused: number; timedOut: number } = {
    connected: 0,
    refused: 0,
    timedOut: 0,
  };

  /** Create a network. */
  constructor(options: MemoryStreamNetworkOptions = {}) {
    this.#scheduler = options.scheduler ?? new RealScheduler();
    this.#latency = Math.max(0, options.latency ?? 0);
    const chunk = options.chunkSize ?? Infinity;
    if (!(chunk >= 1)) throw new RangeError(`chunkSize must be ≥ 1, got ${chunk}`);
    this.#chunkSize = chunk;
  }

  /**
   * A {@linkcode StreamBinder} whose dials come from `localHost` (used for partitions and as
   * the `remote` an acceptor sees).
   */
  binder(localHost = "127.0.0.1"): StreamBinder {
    return {
      name: "memory",
      listen: (o) => Promise.resolve().then(() => this.listen(o)),
      dial: (to, timeoutMs) => this.dial(localHost, to, timeoutMs),
    };
  }

  /** Split hosts into groups that cannot reach each other. Unlisted hosts reach everyone. */
  partition(...groups: string[][]): void {
    this.#groups.clear();
    groups.forEach((g, i) => g.forEach((host) => this.#groups.set(host, i)));
  }

  /** Remove every partition. */
  heal(): void {
    this.#groups.clear();
  }

  /** True if `a` and `b` are not separated by a partition. */
  reachable(a: string, b: string): boolean {
    const ga = this.#groups.get(a), gb = this.#groups.get(b);
    return ga === undefined || gb === undefined || ga === gb;
  }

  /** Listen synchronously. Port 0 picks a free port. */
  listen(options: ListenOptions): StreamListener {
    let port = options.port;
    if (port === 0) {
      port = 40_000;
      while (this.#listeners.has(formatAddress({ host: options.host, port }))) port++;
    }
    const local = { host: options.host, port };
    const key = formatAddress(local);
    if (this.#listeners.has(key)) throw new AddressInUseError(options.host, port);
    const endpoint: Endpoint = { local, tracker: new ConnectionTracker(options, this.#timer) };
    this.#listeners.set(key, endpoint);
    return {
      local,
      stats: endpoint.tracker.stats,
      close: async () => {
        if (endpoint.tracker.closed) return;
        this.#listeners.delete(key);
        await endpoint.tracker.closeAll();
      },
    };
  }

  /** Connect from `fromHost` to `to`, giving up after `timeoutMs`. */
  dial(fromHost: string, to: PeerAddress, timeoutMs: number): Promise<StreamConn> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        fn();
      };
      this.#scheduler.schedule(timeoutMs, () =>
        settle(() => {
          this.counts.timedOut++;
          reject(new StreamError("timeout", `dial ${formatAddress(to)} timed out`));
        }));
      if (!this.reachable(fromHost, to.host)) return; // SYN lost: the dial times out
      this.#scheduler.schedule(this.#latency, () =>
        settle(() => {
          const endpoint = this.#find(to);
          if (!endpoint) {
            this.counts.refused++;
            reject(new StreamError("refused", `connect ${formatAddress(to)}: connection refused`));
            return;
          }
          this.counts.connected++;
          const from = { host: fromHost, port: this.#nextEphemeral++ };
          if (this.#nextEphemeral > 65_000) this.#nextEphemeral = 50_000;
          const dialer = new MemoryConn(this, endpoint.local, from);
          const acceptor = new MemoryConn(this, from, endpoint.local);
          dialer.peer = acceptor;
          acceptor.peer = dialer;
          endpoint.tracker.admit(acceptor);
          resolve(dialer);
        }));
    });
  }

  /** The scheduler as a cancellable timer (a cancelled callback is dropped, not run). */
  readonly #timer: Timer = (ms, fn) => {
    let pending: (() => void) | undefined = fn;
    this.#scheduler.schedule(ms, () => pending?.());
    return () => (pending = undefined);
  };

  #find(to: PeerAddress): Endpoint | undefined {
    return this.#listeners.get(formatAddress(to)) ??
      this.#listeners.get(formatAddress({ host: "0.0.0.0", port: to.port }));
  }

  /** @internal Deliver `chunks` (or end of stream when null) from `from` to `to` in order. */
  transmit(from: MemoryConn, to: MemoryConn, bytes: Uint8Array | null): void {
    if (!this.reachable(from.local.host, to.local.host)) return; // black-holed
    const chunks: (Uint8Array | null)[] = [];
    if (bytes === null) chunks.push(null);
    else {
      for (let at = 0; at < bytes.length; at += this.#chunkSize) {
        chunks.push(bytes.slice(at, Math.min(bytes.length, at + this.#chunkSize)));
      }
    }
    // Equal delays run in insertion order, so a connection's bytes arrive in order.
    for (const chunk of chunks) this.#scheduler.schedule(this.#latency, () => to.deliver(chunk));
  }
}

/** One end of an in-memory connection. */
class MemoryConn implements TrackedConn {
  readonly remote: PeerAddress;
  readonly local: PeerAddress;
  peer: MemoryConn | undefined;
  onClose: (() => void) | undefined;
  onFirstByte: (() => void) | undefined;
  #net: MemoryStreamNetwork;
  readonly #queue = new ChunkQueue({ onOverflow: () => void this.close() });
  #eof = false;
  #closed = false;

  constructor(net: MemoryStreamNetwork, remote: PeerAddress, local: PeerAddress) {
    this.#net = net;
    this.remote = remote;
    this.local = local;
  }

  get closed(): boolean {
    return this.#closed || this.#eof;
  }

  read(): Promise<Uint8Array | null> {
    return noteFirstByte(this, this.#queue.read());
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.#closed || this.#eof || !this.peer) {
      return Promise.reject(new StreamError("closed", "write on a closed connection"));
    }
    if (bytes.length > 0) this.#net.transmit(this, this.peer, bytes);
    return Promise.resolve();
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#queue.clear();
    if (this.peer) this.#net.transmit(this, this.peer, null);
    this.onClose?.();
    return Promise.resolve();
  }

  /** @internal A chunk (or the peer's close) arrives. */
  deliver(chunk: Uint8Array | null): void {
    if (this.#closed || this.#eof) return;
    if (chunk === null) {
      this.#eof = true;
      this.#queue.end();
    } else {
      this.#queue.push(chunk);
    }
  }
}
