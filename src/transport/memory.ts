/**
 * An in-memory datagram network with seeded faults: loss, delay (and so reordering),
 * duplication and partitions. With the simulator's `VirtualScheduler` it drives the
 * deterministic simulator; with a {@linkcode RealScheduler} it connects nodes in one process
 * without sockets.
 *
 * @module
 */

import { formatAddress, type PeerAddress } from "../core/address.ts";
import { type Rng, seededRng } from "../core/rng.ts";
import { RealScheduler, type Scheduler } from "./scheduler.ts";
import {
  AddressInUseError,
  type BindOptions,
  type DatagramBinder,
  type DatagramHandler,
  type DatagramTransport,
} from "./types.ts";
import { DatagramShell } from "./_udp.ts";

/** Fault settings of a {@linkcode MemoryNetwork}. */
export interface NetworkFaults {
  /** Probability a datagram is lost, 0–1. */
  loss?: number;
  /** Smallest one-way delay in ms. */
  minDelay?: number;
  /** Largest one-way delay in ms (a spread reorders datagrams). */
  maxDelay?: number;
  /** Probability a datagram is delivered twice, 0–1. */
  duplicate?: number;
}

/** Options of a {@linkcode MemoryNetwork}. */
export interface MemoryNetworkOptions extends NetworkFaults {
  /** Seed of the fault generator (same seed, same faults). */
  seed?: number;
  /** Clock and timers (default: real time). */
  scheduler?: Scheduler;
}

/**
 * A simulated network of datagram sockets.
 *
 * @example
 * ```ts
 * import { MemoryNetwork } from "@shoal/swim";
 * const net = new MemoryNetwork({ seed: 1, loss: 0.1, minDelay: 1, maxDelay: 5 });
 * const a = net.attach({ host: "10.0.0.1", port: 7946, onDatagram: () => {} });
 * a.send({ host: "10.0.0.2", port: 7946 }, new Uint8Array([1]));
 * ```
 */
export class MemoryNetwork {
  readonly #sockets = new Map<string, MemorySocket>();
  readonly #rng: Rng;
  readonly #scheduler: Scheduler;
  readonly #faults: Required<NetworkFaults>;
  /** host → partition group; hosts in different groups cannot talk. */
  readonly #groups = new Map<string, number>();
  /** host → extra delay applied to datagrams it receives (a slow member). */
  readonly #receiveDelay = new Map<string, number>();
  /** host → share of what it receives that is lost (a bad ingress link), on top of `loss`. */
  readonly #receiveLoss = new Map<string, number>();
  /** Datagrams delivered, dropped by loss, and dropped by partitions. */
  readonly counts: { delivered: number; lost: number; partitioned: number; unroutable: number } = {
    delivered: 0,
    lost: 0,
    partitioned: 0,
    unroutable: 0,
  };

  /** Create a network. */
  constructor(options: MemoryNetworkOptions = {}) {
    this.#rng = seededRng(options.seed ?? 1);
    this.#scheduler = options.scheduler ?? new RealScheduler();
    this.#faults = { loss: 0, minDelay: 0, maxDelay: 0, duplicate: 0 };
    this.setFaults(options);
  }

  /** Change loss, delay and duplication. */
  setFaults(faults: NetworkFaults): void {
    const f = { ...this.#faults, ...definedOnly(faults) };
    if (f.maxDelay < f.minDelay) f.maxDelay = f.minDelay;
    Object.assign(this.#faults, f);
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

  /** Delay everything `host` receives by `ms` more (0 removes it). */
  setReceiveDelay(host: string, ms: number): void {
    if (ms > 0) this.#receiveDelay.set(host, ms);
    else this.#receiveDelay.delete(host);
  }

  /**
   * Lose `share` (0–1) of everything `host` receives, datagrams and stream segments, on top
   * of the network's `loss` (0 removes it): a member behind a bad ingress link.
   */
  setReceiveLoss(host: string, share: number): void {
    if (!(share >= 0 && share <= 1)) throw new RangeError(`receive loss must be 0-1: ${share}`);
    if (share > 0) this.#receiveLoss.set(host, share);
    else this.#receiveLoss.delete(host);
  }

  /** The chance that one datagram or segment to `host` is lost. */
  #lossTo(host: string): number {
    const extra = this.#receiveLoss.get(host);
    return extra === undefined ? this.#faults.loss : 1 - (1 - this.#faults.loss) * (1 - extra);
  }

  /** A {@linkcode DatagramBinder} on this network. */
  binder(): DatagramBinder {
    return { name: "memory", bind: (o) => Promise.resolve(this.attach(o)) };
  }

  /** Bind a socket synchronously. Port 0 picks a free port. */
  attach(options: BindOptions): DatagramTransport {
    let port = options.port;
    if (port === 0) {
      port = 40000;
      while (this.#sockets.has(formatAddress({ host: options.host, port }))) port++;
    }
    const local = { host: options.host, port };
    const key = formatAddress(local);
    if (this.#sockets.has(key)) throw new AddressInUseError(options.host, port);
    const socket = new MemorySocket(local, options.onDatagram, {
      transmit: (to, bytes) => this.#transmit(local, to, bytes),
      release: () => this.#sockets.delete(key),
    });
    this.#sockets.set(key, socket);
    return socket;
  }

  /**
   * How long a small request/response over a stream (TCP) between two hosts takes under the
   * current faults, or null when the hosts cannot reach each other. Each of `legs` one-way
   * segments (handshake, request, response) is lost with the datagram loss rate and then
   * retransmitted after a timeout that starts at 1 s and doubles, as TCP does; a segment lost
   * 6 times gives up.
   */
  streamLatency(fromHost: string, toHost: string, legs = 4): number | null {
    const ga = this.#groups.get(fromHost), gb = this.#groups.get(toHost);
    if (ga !== undefined && gb !== undefined && ga !== gb) return null;
    const f = this.#faults;
    let total = 0;
    for (let leg = 0; leg < legs; leg++) {
      // Segments alternate: request legs reach `toHost`, answers reach `fromHost`.
      const loss = this.#lossTo(leg % 2 === 0 ? toHost : fromHost);
      let rto = 1000;
      let tries = 0;
      while (loss > 0 && this.#rng.next() < loss) {
        if (++tries >= 6) return null;
        total += rto;
        rto *= 2;
      }
      total += f.minDelay +
        (f.maxDelay > f.minDelay ? this.#rng.next() * (f.maxDelay - f.minDelay) : 0);
    }
    return total + (this.#receiveDelay.get(toHost) ?? 0) + (this.#receiveDelay.get(fromHost) ?? 0);
  }

  #transmit(from: PeerAddress, to: PeerAddress, bytes: Uint8Array): void {
    const ga = this.#groups.get(from.host), gb = this.#groups.get(to.host);
    if (ga !== undefined && gb !== undefined && ga !== gb) {
      this.counts.partitioned++;
      return;
    }
    const f = this.#faults;
    const loss = this.#lossTo(to.host);
    if (loss > 0 && this.#rng.next() < loss) {
      this.counts.lost++;
      return;
    }
    const copies = f.duplicate > 0 && this.#rng.next() < f.duplicate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const jitter = f.maxDelay > f.minDelay ? this.#rng.next() * (f.maxDelay - f.minDelay) : 0;
      const delay = f.minDelay + jitter + (this.#receiveDelay.get(to.host) ?? 0);
      this.#scheduler.schedule(delay, () => {
        const socket = this.#sockets.get(formatAddress(to));
        if (!socket) {
          this.counts.unroutable++;
          return;
        }
        this.counts.delivered++;
        socket.receive(bytes, from);
      });
    }
  }
}

function definedOnly(f: NetworkFaults): NetworkFaults {
  const out: NetworkFaults = {};
  for (const k of ["loss", "minDelay", "maxDelay", "duplicate"] as const) {
    if (typeof f[k] === "number") out[k] = f[k];
  }
  return out;
}

/** What a {@linkcode MemorySocket} asks of its network. */
interface MemoryLink {
  /** Carry a datagram to `to`. */
  transmit(to: PeerAddress, bytes: Uint8Array): void;
  /** Free the socket's address. */
  release(): void;
}

/** A socket on a {@linkcode MemoryNetwork}; a throwing handler throws out of the network. */
class MemorySocket extends DatagramShell {
  readonly local: PeerAddress;
  readonly #network: MemoryLink;

  constructor(local: PeerAddress, onDatagram: DatagramHandler, network: MemoryLink) {
    super(onDatagram, false);
    this.local = local;
    this.#network = network;
  }

  /** A datagram arrives from the network. */
  receive(bytes: Uint8Array, from: PeerAddress): void {
    this.deliver(bytes, from);
  }

  protected transmit(to: PeerAddress, bytes: Uint8Array): void {
    this.stats.packetsOut++;
    this.stats.bytesOut += bytes.length;
    this.#network.transmit(to, bytes);
  }

  protected release(): Promise<void> {
    this.#network.release();
    return Promise.resolve();
  }
}
