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
import type { BindOptions, DatagramBinder, DatagramTransport } from "./types.ts";
import { bindError, plainHost } from "./_net.ts";
import { DatagramShell, SendPump } from "./_udp.ts";

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
        reject(bindError(error, options.host, options.port));
      };
      socket.once("error", onBindError);
      socket.bind({ address: options.host, port: options.port, exclusive: true }, () => {
        socket.off("error", onBindError);
        resolve(new NodeUdpTransport(socket, options));
      });
    });
  },
};

class NodeUdpTransport extends DatagramShell {
  readonly local: PeerAddress;
  readonly #socket: Socket;
  readonly #pump: SendPump;

  constructor(socket: Socket, options: BindOptions) {
    super(options.onDatagram);
    this.#socket = socket;
    const addr = socket.address();
    this.local = { host: plainHost(addr.address), port: addr.port };
    // The next datagram leaves from the previous one's callback.
    this.#pump = new SendPump(
      this.stats,
      (to, bytes) =>
        new Promise<number>((resolve, reject) =>
          socket.send(bytes, to.port, to.host, (error, sent) => {
            if (error) reject(error);
            else resolve(sent ?? bytes.byteLength);
          })
        ),
    );
    socket.on("message", (msg: Uint8Array, rinfo: RemoteInfo) => {
      // A Buffer's slice() is a view; a plain Uint8Array over the same fresh memory is not.
      const bytes = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength);
      this.deliver(bytes, { host: plainHost(rinfo.address), port: rinfo.port });
    });
    socket.on("error", () => {
      this.stats.receiveErrors++; // asynchronous socket errors: UDP noise, keep going
    });
  }

  protected transmit(to: PeerAddress, bytes: Uint8Array): void {
    this.#pump.push(to, bytes); // bad address, closed socket: counted by the pump
  }

  protected async release(): Promise<void> {
    await this.#pump.idle(); // let datagrams already queued (a farewell, say) leave first
    await new Promise<void>((resolve) => {
      try {
        this.#socket.close(() => resolve());
      } catch {
        resolve(); // already closed underneath us
      }
    });
  }
}
