/**
 * UDP transport for Bun over `Bun.udpSocket`.
 *
 * Bun is reached through `globalThis` with a minimal local {@linkcode BunLike} shape, because
 * the project is type-checked by Deno, which has no Bun types.
 *
 * Quirks handled here: `send` is synchronous and may throw (EMSGSIZE, a non-IP host, a
 * closed socket), which is counted as a send error; it returns `false` under backpressure
 * (older Bun threw EAGAIN instead), so datagrams then wait in a queue until `drain`; the
 * `error` handler receives `undefined` for ICMP notices (port unreachable), which are ignored;
 * and after such a notice the NEXT `send` (to any peer) throws ECONNREFUSED without sending,
 * so that send is retried once.
 *
 * @module
 */

import type { PeerAddress } from "../core/address.ts";
import type { BindOptions, DatagramBinder, DatagramTransport } from "./types.ts";
import { bindError, plainHost } from "./_net.ts";
import { DatagramShell, MAX_QUEUED_SENDS } from "./_udp.ts";

/** Handlers of an unconnected Bun UDP socket, with `binaryType: "uint8array"`. */
interface BunUdpHandlers {
  data(socket: BunUdpSocket, data: Uint8Array, port: number, address: string): void;
  drain(socket: BunUdpSocket): void;
  error(socket: BunUdpSocket, error: unknown): void;
}

/** The slice of Bun's unconnected UDP socket we use. */
interface BunUdpSocket {
  readonly address: { readonly address: string; readonly port: number };
  send(data: Uint8Array, port: number, address: string): boolean;
  close(): void;
  unref(): void;
}

/** The slice of the `Bun` global we use. */
interface BunLike {
  udpSocket(options: {
    hostname: string;
    port?: number;
    binaryType: "uint8array";
    socket: BunUdpHandlers;
  }): Promise<BunUdpSocket>;
}

/** Error codes from `send` that mean "try again later" rather than "this datagram is bad". */
const RETRY_CODES = new Set(["EAGAIN", "EWOULDBLOCK", "ENOBUFS"]);

/**
 * Error codes from `send` that report an ICMP notice about an earlier datagram (Bun asks the
 * kernel for them): the datagram being sent was dropped, not refused.
 */
const STALE_ICMP_CODES = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "EHOSTDOWN"]);

/**
 * Binds UDP sockets with `Bun.udpSocket`. Sockets are unref'd: an idle node never keeps the
 * process alive. Port 0 lets the OS choose; `local.port` reports the port actually bound.
 *
 * @example
 * ```ts
 * import { bunDatagram } from "./bun_udp.ts";
 * const t = await bunDatagram.bind({
 *   host: "127.0.0.1",
 *   port: 0,
 *   onDatagram: (bytes, from) => console.log(bytes.length, from),
 * });
 * console.log(t.local.port); // chosen by the OS
 * await t.close();
 * ```
 */
export const bunDatagram: DatagramBinder = {
  name: "bun",
  async bind(options: BindOptions): Promise<DatagramTransport> {
    const bun = (globalThis as { Bun?: BunLike }).Bun;
    if (typeof bun?.udpSocket !== "function") {
      throw new Error("Bun.udpSocket is not available: the bun adapter runs only under Bun");
    }
    const transport = new BunUdpTransport(options);
    let socket: BunUdpSocket;
    try {
      socket = await bun.udpSocket({
        hostname: options.host,
        // Leaving the port out is Bun's documented way to let the OS choose one.
        ...(options.port === 0 ? {} : { port: options.port }),
        binaryType: "uint8array",
        socket: transport.handlers,
      });
    } catch (error) {
      throw bindError(error, options.host, options.port);
    }
    transport.attach(socket);
    return transport;
  },
};

class BunUdpTransport extends DatagramShell {
  local: PeerAddress = { host: "", port: 0 };
  readonly handlers: BunUdpHandlers;
  #socket: BunUdpSocket | undefined;
  #queue: { to: PeerAddress; bytes: Uint8Array }[] = [];

  constructor(options: BindOptions) {
    super(options.onDatagram);
    this.handlers = {
      // With binaryType "uint8array" Bun hands over a fresh array per datagram: no copy needed.
      data: (_socket, data, port, address) =>
        this.deliver(data, { host: plainHost(address), port }),
      drain: () => this.#flush(),
      error: (_socket, error) => {
        // Bun passes `undefined` for ICMP notices (e.g. port unreachable): UDP noise.
        if (error !== undefined) this.stats.receiveErrors++;
      },
    };
  }

  /** Called once the socket is bound (handlers exist before the socket does). */
  attach(socket: BunUdpSocket): void {
    this.#socket = socket;
    socket.unref();
    this.local = { host: socket.address.address, port: socket.address.port };
  }

  protected transmit(to: PeerAddress, bytes: Uint8Array): void {
    if (!this.#socket) {
      this.stats.sendErrors++;
    } else if (this.#queue.length > 0) {
      this.#enqueue(to, bytes); // keep order behind datagrams waiting for drain
    } else if (this.#trySend(to, bytes) === "later") {
      this.#enqueue(to, bytes);
    }
  }

  protected release(): Promise<void> {
    this.#flush(); // last chance for queued datagrams (a farewell, say)
    this.stats.sendErrors += this.#queue.length;
    this.#queue = [];
    try {
      this.#socket?.close();
    } catch {
      // already closed underneath us: nothing left to release
    }
    return Promise.resolve();
  }

  /** One synchronous send: "sent", "later" (backpressure) or "failed" (counted). */
  #trySend(to: PeerAddress, bytes: Uint8Array): "sent" | "later" | "failed" {
    for (let attempt = 1;; attempt++) {
      try {
        if (!this.#socket!.send(bytes, to.port, to.host)) return "later";
        this.stats.packetsOut++;
        this.stats.bytesOut += bytes.byteLength;
        return "sent";
      } catch (error) {
        const code = (error as { code?: string })?.code ?? "";
        if (RETRY_CODES.has(code)) return "later";
        // An ICMP error left pending by an EARLIER datagram is reported by this send instead,
        // and this datagram was not sent. The error is cleared by reporting it: send again.
        if (STALE_ICMP_CODES.has(code) && attempt === 1) continue;
        this.stats.sendErrors++;
        return "failed";
      }
    }
  }

  #enqueue(to: PeerAddress, bytes: Uint8Array): void {
    if (this.#queue.length >= MAX_QUEUED_SENDS) this.stats.sendErrors++;
    else this.#queue.push({ to, bytes });
  }

  /** Sends queued datagrams in order until the socket pushes back again. */
  #flush(): void {
    while (this.#queue.length > 0 && this.#socket) {
      const { to, bytes } = this.#queue[0];
      if (this.#trySend(to, bytes) === "later") return;
      this.#queue.shift();
    }
  }
}
