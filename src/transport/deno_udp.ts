/**
 * UDP transport for Deno over `Deno.listenDatagram` (needs `--unstable-net` or
 * `"unstable": ["net"]` in deno.json).
 *
 * Quirks handled here: sends fired without `await` leave in reverse order, so all sends go
 * through one ordered pump; `close()` twice throws in Deno, so closing is guarded; `unref()`
 * exists at run time but not in the type declarations, so it is reached through a narrow
 * local interface.
 *
 * @module
 */

import type { PeerAddress } from "../core/address.ts";
import {
  AddressInUseError,
  type BindOptions,
  type DatagramBinder,
  type DatagramTransport,
  newTransportStats,
  type TransportStats,
} from "./types.ts";

/** The slice of Deno's UDP address shape we use. */
interface DenoUdpAddr {
  readonly hostname: string;
  readonly port: number;
}

/** The slice of `Deno.DatagramConn` we use, plus the untyped `unref()`. */
interface DenoUdpConn {
  readonly addr: DenoUdpAddr;
  receive(): Promise<[Uint8Array, DenoUdpAddr]>;
  send(bytes: Uint8Array, to: DenoUdpAddr & { transport: "udp" }): Promise<number>;
  close(): void;
  unref?(): void;
}

/** The slice of the `Deno` namespace we use. */
interface DenoUdpNamespace {
  listenDatagram?(options: { transport: "udp"; hostname: string; port: number }): DenoUdpConn;
}

/** Datagrams queued for the send pump beyond this are dropped (and counted), as UDP would. */
const MAX_QUEUED_SENDS = 4096;

/** Error names that mean the socket is gone for good: the receive loop stops. */
const FATAL_RECEIVE_ERRORS = new Set(["BadResource", "Interrupted"]);

/** Receive-side counters kept in addition to {@linkcode TransportStats}. */
type UdpStats = TransportStats;

/**
 * Binds UDP sockets with `Deno.listenDatagram`. Sockets are unref'd: an idle node never keeps
 * the process alive.
 *
 * @example
 * ```ts
 * import { denoDatagram } from "./deno_udp.ts";
 * const t = await denoDatagram.bind({
 *   host: "127.0.0.1",
 *   port: 0,
 *   onDatagram: (bytes, from) => console.log(bytes.length, from),
 * });
 * t.send({ host: "127.0.0.1", port: 7946 }, new Uint8Array([1, 2, 3]));
 * await t.close();
 * ```
 */
export const denoDatagram: DatagramBinder = {
  name: "deno",
  bind(options: BindOptions): Promise<DatagramTransport> {
    return Promise.resolve().then(() => new DenoUdpTransport(listen(options), options));
  },
};

function listen(options: BindOptions): DenoUdpConn {
  const deno = (globalThis as { Deno?: DenoUdpNamespace }).Deno;
  if (typeof deno?.listenDatagram !== "function") {
    throw new Error(
      'Deno.listenDatagram is not available: run with --unstable-net or set "unstable": ["net"] ' +
        "in deno.json",
    );
  }
  try {
    return deno.listenDatagram({ transport: "udp", hostname: options.host, port: options.port });
  } catch (error) {
    if (error instanceof Error && error.name === "AddrInUse") {
      throw new AddressInUseError(options.host, options.port, { cause: error });
    }
    throw error;
  }
}

/** Turns an IPv4-mapped IPv6 source (from a dual-stack socket) back into a dotted quad. */
function plainHost(host: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(host);
  return mapped ? mapped[1] : host;
}

class DenoUdpTransport implements DatagramTransport {
  readonly local: PeerAddress;
  readonly stats: UdpStats = newTransportStats();
  #conn: DenoUdpConn;
  #onDatagram: BindOptions["onDatagram"];
  #queue: { to: PeerAddress; bytes: Uint8Array }[] = [];
  #pumping = false;
  #pump: Promise<void> = Promise.resolve();
  #receiving: Promise<void>;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(conn: DenoUdpConn, options: BindOptions) {
    this.#conn = conn;
    this.#onDatagram = options.onDatagram;
    conn.unref?.();
    this.local = { host: conn.addr.hostname, port: conn.addr.port };
    this.#receiving = this.#receiveLoop();
  }

  send(to: PeerAddress, bytes: Uint8Array): void {
    if (this.#closed || this.#queue.length >= MAX_QUEUED_SENDS) {
      this.stats.sendErrors++;
      return;
    }
    this.#queue.push({ to, bytes });
    if (!this.#pumping) {
      this.#pumping = true;
      this.#pump = this.#drain();
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    this.#closed = true; // no new sends, no more deliveries
    await this.#pump; // let datagrams already queued (a farewell, say) leave first
    try {
      this.#conn.close();
    } catch {
      // already closed underneath us: nothing left to release
    }
    // The pending receive rejects once the socket is closed and the loop ends by itself. It is
    // not awaited: the op is unref'd, so awaiting it could strand a caller whose event loop
    // has nothing else to do. No datagram is delivered after this point (`#closed`).
    this.#receiving.catch(() => {});
  }

  /** Sends queued datagrams one at a time, awaiting each, so they leave in order. */
  async #drain(): Promise<void> {
    for (let item = this.#queue.shift(); item; item = this.#queue.shift()) {
      try {
        const to = { transport: "udp" as const, hostname: item.to.host, port: item.to.port };
        const sent = await this.#conn.send(item.bytes, to);
        this.stats.packetsOut++;
        this.stats.bytesOut += sent;
      } catch {
        this.stats.sendErrors++;
      }
    }
    this.#pumping = false;
  }

  async #receiveLoop(): Promise<void> {
    let failures = 0;
    while (!this.#closed) {
      let bytes: Uint8Array, from: DenoUdpAddr;
      try {
        // Without a buffer argument Deno returns a fresh array sized to the datagram
        // (up to 64 KiB), so nothing is reused and big datagrams arrive whole.
        [bytes, from] = await this.#conn.receive();
        failures = 0;
      } catch (error) {
        if (this.#closed || FATAL_RECEIVE_ERRORS.has((error as Error)?.name)) return;
        this.stats.receiveErrors++;
        await pause(Math.min(2 ** failures++, 1000)); // don't spin on a persistent error
        continue;
      }
      if (this.#closed) return;
      this.stats.packetsIn++;
      this.stats.bytesIn += bytes.byteLength;
      try {
        this.#onDatagram(bytes, { host: plainHost(from.hostname), port: from.port });
      } catch {
        this.stats.receiveErrors++; // a throwing handler must not stop the socket
      }
    }
  }
}

/** An unref'd delay, so backing off never keeps the process alive. */
function pause(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms) as { unref?: () => void };
    timer.unref?.();
  });
}
