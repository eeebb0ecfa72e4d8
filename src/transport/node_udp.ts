/**
 * UDP transport over `node:dgram`: the adapter for Node.js (≥ 20), and a fallback for Deno
 * without `--unstable-net` (Deno's `node:dgram` needs no unstable flag). Bun runs it too.
 *
 * Quirks handled here: the socket is unref'd *before* `bind()`, because Deno's `node:dgram`
 * ignores an `unref()` made after binding; sends go through one ordered pump (the next
 * datagram leaves from the previous one's callback), because sends fired in one tick may
 * leave out of order in Deno; an `'error'` listener is always attached, since an unhandled
 * one would crash the process; and received `Buffer`s are handed on as plain `Uint8Array`
 * views, so `slice()` copies as everywhere else.
 *
 * @module
 */

import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import type { PeerAddress } from "../core/address.ts";
import {
  AddressInUseError,
  type BindOptions,
  type DatagramBinder,
  type DatagramTransport,
  newTransportStats,
  type TransportStats,
} from "./types.ts";

/** Datagrams queued for the send pump beyond this are dropped (and counted), as UDP would. */
const MAX_QUEUED_SENDS = 4096;

/**
 * Binds UDP sockets with `node:dgram`. Sockets are unref'd: an idle node never keeps the
 * process alive. Port 0 lets the OS choose; `local.port` reports the port actually bound.
 *
 * @example
 * ```ts
 * import { nodeDatagram } from "./node_udp.ts";
 * const t = await nodeDatagram.bind({
 *   host: "127.0.0.1",
 *   port: 0,
 *   onDatagram: (bytes, from) => console.log(bytes.length, from),
 * });
 * t.send({ host: "127.0.0.1", port: 7946 }, new Uint8Array([1, 2, 3]));
 * await t.close();
 * ```
 */
export const nodeDatagram: DatagramBinder = {
  name: "node",
  bind(options: BindOptions): Promise<DatagramTransport> {
    const socket = createSocket({ type: options.host.includes(":") ? "udp6" : "udp4" });
    socket.unref(); // before bind: Deno's node:dgram only honours it there
    return new Promise<DatagramTransport>((resolve, reject) => {
      const onBindError = (error: Error & { code?: string }) => {
        try {
          socket.close();
        } catch {
          // never bound: nothing to release
        }
        reject(
          error.code === "EADDRINUSE"
            ? new AddressInUseError(options.host, options.port, { cause: error })
            : error,
        );
      };
      socket.once("error", onBindError);
      socket.bind({ address: options.host, port: options.port, exclusive: true }, () => {
        socket.off("error", onBindError);
        resolve(new NodeUdpTransport(socket, options));
      });
    });
  },
};

/** Turns an IPv4-mapped IPv6 source (from a dual-stack socket) back into a dotted quad. */
function plainHost(host: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(host);
  return mapped ? mapped[1] : host;
}

class NodeUdpTransport implements DatagramTransport {
  readonly local: PeerAddress;
  readonly stats: TransportStats = newTransportStats();
  #socket: Socket;
  #onDatagram: BindOptions["onDatagram"];
  #queue: { to: PeerAddress; bytes: Uint8Array }[] = [];
  #sending = false;
  #drained: (() => void) | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(socket: Socket, options: BindOptions) {
    this.#socket = socket;
    this.#onDatagram = options.onDatagram;
    const addr = socket.address();
    this.local = { host: plainHost(addr.address), port: addr.port };
    socket.on("message", (msg: Uint8Array, rinfo: RemoteInfo) => this.#receive(msg, rinfo));
    socket.on("error", () => {
      this.stats.receiveErrors++; // asynchronous socket errors: UDP noise, keep going
    });
  }

  send(to: PeerAddress, bytes: Uint8Array): void {
    if (this.#closed || this.#queue.length >= MAX_QUEUED_SENDS) {
      this.stats.sendErrors++;
      return;
    }
    this.#queue.push({ to, bytes });
    if (!this.#sending) this.#next();
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    this.#closed = true; // no new sends, no more deliveries
    if (this.#sending) {
      // let datagrams already queued (a farewell, say) leave first
      await new Promise<void>((resolve) => (this.#drained = resolve));
    }
    await new Promise<void>((resolve) => {
      try {
        this.#socket.close(() => resolve());
      } catch {
        resolve(); // already closed underneath us
      }
    });
  }

  /** Send the head of the queue; its callback sends the next one, so order is kept. */
  #next(): void {
    const item = this.#queue.shift();
    if (!item) {
      this.#sending = false;
      this.#drained?.();
      return;
    }
    this.#sending = true;
    try {
      this.#socket.send(item.bytes, item.to.port, item.to.host, (error, sent) => {
        if (error) this.stats.sendErrors++;
        else {
          this.stats.packetsOut++;
          this.stats.bytesOut += sent ?? item.bytes.byteLength;
        }
        this.#next();
      });
    } catch {
      this.stats.sendErrors++; // bad address, closed socket: synchronous failures
      queueMicrotask(() => this.#next());
    }
  }

  #receive(msg: Uint8Array, rinfo: RemoteInfo): void {
    if (this.#closed) return;
    this.stats.packetsIn++;
    this.stats.bytesIn += msg.byteLength;
    // A Buffer's slice() is a view; a plain Uint8Array over the same fresh memory is not.
    const bytes = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength);
    try {
      this.#onDatagram(bytes, { host: plainHost(rinfo.address), port: rinfo.port });
    } catch {
      this.stats.receiveErrors++; // a throwing handler must not break the socket
    }
  }
}
