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
import type { BindOptions, DatagramBinder, DatagramTransport } from "./types.ts";
import { bindError, plainHost, unrefDelay } from "./_net.ts";
import { DatagramShell, SendPump } from "./_udp.ts";

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

/** Error names that mean the socket is gone for good: the receive loop stops. */
const FATAL_RECEIVE_ERRORS = new Set(["BadResource", "Interrupted"]);

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
    throw bindError(error, options.host, options.port);
  }
}

class DenoUdpTransport extends DatagramShell {
  readonly local: PeerAddress;
  readonly #conn: DenoUdpConn;
  readonly #pump: SendPump;
  readonly #receiving: Promise<void>;

  constructor(conn: DenoUdpConn, options: BindOptions) {
    super(options.onDatagram);
    this.#conn = conn;
    conn.unref?.();
    this.local = { host: conn.addr.hostname, port: conn.addr.port };
    this.#pump = new SendPump(
      this.stats,
      (to, bytes) => conn.send(bytes, { transport: "udp", hostname: to.host, port: to.port }),
    );
    this.#receiving = this.#receiveLoop();
  }

  protected transmit(to: PeerAddress, bytes: Uint8Array): void {
    this.#pump.push(to, bytes);
  }

  protected async release(): Promise<void> {
    await this.#pump.idle(); // let datagrams already queued (a farewell, say) leave first
    try {
      this.#conn.close();
    } catch {
      // already closed underneath us: nothing left to release
    }
    // The pending receive rejects once the socket is closed and the loop ends by itself. It is
    // not awaited: the op is unref'd, so awaiting it could strand a caller whose event loop
    // has nothing else to do. No datagram is delivered after this point (`closed`).
    this.#receiving.catch(() => {});
  }

  async #receiveLoop(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      let bytes: Uint8Array, from: DenoUdpAddr;
      try {
        // Without a buffer argument Deno returns a fresh array sized to the datagram
        // (up to 64 KiB), so nothing is reused and big datagrams arrive whole.
        [bytes, from] = await this.#conn.receive();
        failures = 0;
      } catch (error) {
        if (this.closed || FATAL_RECEIVE_ERRORS.has((error as Error)?.name)) return;
        this.stats.receiveErrors++;
        await unrefDelay(Math.min(2 ** failures++, 1000)); // don't spin on a persistent error
        continue;
      }
      if (this.closed) return;
      this.deliver(bytes, { host: plainHost(from.hostname), port: from.port });
    }
  }
}
