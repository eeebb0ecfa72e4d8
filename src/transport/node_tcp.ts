/**
 * Stream transport over `node:net`: the TCP adapter for Node.js (≥ 20), beside the
 * `node:dgram` one. Deno and Bun run it too.
 *
 * Quirks handled here: `node:net` pushes data through events, so chunks wait in a
 * {@linkcode ChunkQueue} for `read()`, which pauses the socket while too many bytes wait
 * (TCP flow control then holds the peer back; memory stays bounded); `write` resolves from
 * the write callback, once the bytes are handed to the OS; `destroy()` may drop pending
 * write callbacks, so pending writes are rejected by `close()` itself; listener and
 * connections are unref'd, accepted ones included.
 *
 * @module
 */

import { connect, createServer, type Server, type Socket } from "node:net";
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

/**
 * Listens and dials TCP with `node:net`. Everything is unref'd.
 *
 * @example
 * ```ts
 * import { nodeStream } from "./node_tcp.ts";
 * const listener = await nodeStream.listen({
 *   host: "127.0.0.1",
 *   port: 0,
 *   onConnection: (conn) => void conn.close(),
 * });
 * const conn = await nodeStream.dial(listener.local, 1000);
 * await conn.read(); // null: the acceptor closed it
 * await listener.close();
 * ```
 */
export const nodeStream: StreamBinder = {
  name: "node-tcp",
  listen(options: ListenOptions): Promise<StreamListener> {
    return NodeListener.open(options);
  },
  dial(to: PeerAddress, timeoutMs: number): Promise<StreamConn> {
    return new Promise<StreamConn>((resolve, reject) => {
      const socket = connect({ host: to.host, port: to.port, allowHalfOpen: true });
      socket.unref();
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new StreamError("timeout", `connect ${formatAddress(to)} timed out`));
      }, Math.max(0, timeoutMs));
      (timer as { unref?: () => void }).unref?.();
      const onError = (error: Error & { code?: string }) => {
        clearTimeout(timer);
        socket.destroy();
        const refused = error.code === "ECONNREFUSED" || error.code === "ECONNRESET";
        reject(
          new StreamError(
            refused ? "refused" : "io",
            `connect ${formatAddress(to)}: ${refused ? "connection refused" : error.message}`,
            { cause: error },
          ),
        );
      };
      socket.once("error", onError);
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.off("error", onError);
        resolve(new NodeConn(socket, to));
      });
    });
  },
};

class NodeListener implements StreamListener {
  readonly local: PeerAddress;
  readonly #server: Server;
  readonly #tracker: ConnectionTracker<NodeConn>;
  #closing: Promise<void> | undefined;

  private constructor(server: Server, local: PeerAddress, tracker: ConnectionTracker<NodeConn>) {
    this.#server = server;
    this.local = local;
    this.#tracker = tracker;
  }

  get stats(): StreamListenerStats {
    return this.#tracker.stats;
  }

  static open(options: ListenOptions): Promise<NodeListener> {
    const tracker = new ConnectionTracker<NodeConn>(options);
    let listener: NodeListener | undefined;
    const server = createServer(
      { allowHalfOpen: true }, // a peer's FIN ends its side only: we may still answer
      (socket) => listener?.accept(socket),
    );
    server.unref();
    return new Promise<NodeListener>((resolve, reject) => {
      const onError = (error: Error & { code?: string }) => {
        server.close();
        reject(bindError(error, options.host, options.port));
      };
      server.once("error", onError);
      server.listen({ host: options.host, port: options.port, exclusive: true }, () => {
        server.off("error", onError);
        server.on("error", () => listener && listener.stats.errors++);
        const addr = server.address();
        const local = typeof addr === "object" && addr
          ? { host: plainHost(addr.address), port: addr.port }
          : { host: options.host, port: options.port };
        listener = new NodeListener(server, local, tracker);
        resolve(listener);
      });
    });
  }

  accept(socket: Socket): void {
    socket.unref();
    const remote = {
      host: plainHost(socket.remoteAddress ?? ""),
      port: socket.remotePort ?? 0,
    };
    this.#tracker.admit(new NodeConn(socket, remote));
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    const released = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    await this.#tracker.closeAll();
    // close() calls back once every connection is gone; bound the wait all the same.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([released, new Promise<void>((r) => (timer = setTimeout(r, 200)))]);
    clearTimeout(timer);
  }
}

class NodeConn implements TrackedConn {
  readonly remote: PeerAddress;
  onClose: (() => void) | undefined;
  onFirstByte: (() => void) | undefined;
  readonly #socket: Socket;
  readonly #queue: ChunkQueue;
  #eof = false;
  #closed = false;
  readonly #pendingWrites = new Set<(error: StreamError) => void>();

  constructor(socket: Socket, remote: PeerAddress) {
    this.#socket = socket;
    this.remote = remote;
    this.#queue = new ChunkQueue({
      pause: () => socket.pause(),
      resume: () => socket.resume(),
      onOverflow: () => void this.close(),
    });
    try {
      socket.setNoDelay(true);
    } catch {
      // not fatal: only latency
    }
    socket.on("data", (chunk: Uint8Array) => {
      // A plain Uint8Array over the chunk's fresh memory: slice() copies, as elsewhere.
      this.#queue.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    });
    const ended = () => {
      this.#eof = true;
      this.#queue.end();
    };
    socket.on("end", ended);
    socket.on("close", ended);
    socket.on("error", ended); // a reset reads as end of stream
  }

  get closed(): boolean {
    return this.#closed || this.#eof;
  }

  read(): Promise<Uint8Array | null> {
    return noteFirstByte(this, this.#queue.read());
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.#closed || this.#socket.destroyed) {
      return Promise.reject(new StreamError("closed", "write on a closed connection"));
    }
    return new Promise<void>((resolve, reject) => {
      const fail = (error: StreamError) => {
        this.#pendingWrites.delete(fail);
        reject(error);
      };
      this.#pendingWrites.add(fail);
      try {
        this.#socket.write(bytes, (error) => {
          if (!this.#pendingWrites.has(fail)) return; // already rejected by close()
          this.#pendingWrites.delete(fail);
          if (!error) resolve();
          else {
            const code = (error as { code?: string }).code ?? "";
            const closed = this.#closed || /EPIPE|ECONNRESET|DESTROYED|WRITE_AFTER_END/.test(code);
            reject(
              new StreamError(closed ? "closed" : "io", `write failed: ${error.message}`, {
                cause: error,
              }),
            );
          }
        });
      } catch (error) {
        fail(new StreamError("io", `write failed: ${error}`, { cause: error }));
      }
    });
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    for (const fail of [...this.#pendingWrites]) {
      fail(new StreamError("closed", "connection closed while writing"));
    }
    this.#socket.destroy();
    this.#queue.clear();
    this.onClose?.();
    return Promise.resolve();
  }
}
