/**
 * An unprivileged attacker for the hostile-network tests: a plain `node:dgram` socket on
 * loopback (works under Deno and Bun) that crafts memberlist datagrams with shoal's own
 * encoders, and counts what it receives. Also used by bench/hostile_memberlist.ts against the
 * Go peer.
 *
 * @module
 */

import dgram from "node:dgram";
import type { PeerAddress } from "../../src/core/address.ts";
import { ipToBytes } from "../../src/core/address.ts";
import { DEFAULT_VSN } from "../../src/core/config.ts";
import type { Alive, Dead, Message, Ping } from "../../src/core/messages.ts";
import { decodePacket, encodeCompound, encodeMessage, framePacket } from "../../src/wire/mod.ts";

/** A UDP socket that sends crafted datagrams and records what comes back. */
export class Attacker {
  /** Datagrams received. */
  packetsIn = 0;
  /** Bytes received. */
  bytesIn = 0;
  /** Datagrams sent. */
  packetsOut = 0;
  /** Bytes sent. */
  bytesOut = 0;
  /** The first received datagrams (at most 4096 kept). */
  readonly received: { bytes: Uint8Array; from: PeerAddress }[] = [];
  readonly #socket: dgram.Socket;
  #address: PeerAddress = { host: "", port: 0 };
  #closed = false;

  private constructor(socket: dgram.Socket) {
    this.#socket = socket;
    socket.on("message", (msg: Uint8Array, rinfo: { address: string; port: number }) => {
      this.packetsIn++;
      this.bytesIn += msg.length;
      if (this.received.length < 4096) {
        this.received.push({
          bytes: new Uint8Array(msg),
          from: { host: rinfo.address, port: rinfo.port },
        });
      }
    });
    socket.on("error", () => {});
  }

  /** Bind a socket on `host` (a loopback address) and an OS-chosen port. */
  static bind(host = "127.0.0.1"): Promise<Attacker> {
    const socket = dgram.createSocket("udp4");
    const attacker = new Attacker(socket);
    return new Promise((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(0, host, () => {
        socket.off("error", reject);
        attacker.#address = { host, port: socket.address().port };
        resolve(attacker);
      });
    });
  }

  /** Where the socket is bound. */
  get address(): PeerAddress {
    return this.#address;
  }

  /** Send one datagram; resolves once the runtime handed it to the kernel. */
  send(to: PeerAddress, bytes: Uint8Array): Promise<void> {
    this.packetsOut++;
    this.bytesOut += bytes.length;
    return new Promise((resolve) => this.#socket.send(bytes, to.port, to.host, () => resolve()));
  }

  /** Every message received so far, decoded (undecodable datagrams skipped). */
  messages(): Message[] {
    const out: Message[] = [];
    for (const { bytes } of this.received) {
      try {
        out.push(...decodePacket(bytes));
      } catch { /* not a memberlist packet */ }
    }
    return out;
  }

  /**
   * Send a real ping to the node called `name` at `to` and wait up to `timeoutMs` for its ack;
   * true when it came.
   */
  async pingForAck(to: PeerAddress, name: string, seqNo: number, timeoutMs = 3000) {
    const end = Date.now() + timeoutMs;
    const acked = () => this.messages().some((m) => m.type === "ack" && m.seqNo === seqNo);
    await this.send(to, packet([ping(seqNo, name)]));
    while (Date.now() < end) {
      if (acked()) return true;
      await sleep(20);
    }
    return acked();
  }

  /** Close the socket. Idempotent. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }
}

/** Wait `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** An alive claim: `node` at `host:port`, incarnation `incarnation`. */
export function alive(node: string, host: string, port: number, incarnation = 1): Alive {
  return {
    type: "alive",
    incarnation,
    node,
    addr: ipToBytes(host),
    port,
    meta: null,
    vsn: DEFAULT_VSN,
  };
}

/** A death rumour about `node` at `incarnation`, raised by `from`. */
export function dead(node: string, incarnation: number, from = "mallory"): Dead {
  return { type: "dead", incarnation, node, from };
}

/**
 * A ping to `node` ("" makes it an announce when `source` is given); `source` fills the
 * `SourceAddr`/`SourcePort`/`SourceNode` fields, which say where the answer should go.
 */
export function ping(
  seqNo: number,
  node: string,
  source?: { host: string; port: number; name: string },
): Ping {
  if (!source) return { type: "ping", seqNo, node };
  return {
    type: "ping",
    seqNo,
    node,
    sourceAddr: ipToBytes(source.host),
    sourcePort: source.port,
    sourceNode: source.name,
  };
}

/** One datagram of `messages` (a compound when several), optionally CRC-wrapped. */
export function packet(messages: readonly Message[], crc = false): Uint8Array {
  return framePacket(messages.map(encodeMessage), { crc });
}

/**
 * The fake-member flood: `datagrams` packets of `perPacket` alives each, names
 * `${prefix}-<n>`, every fake at `at` with its own port (closed ports on loopback).
 */
export function aliveFlood(
  datagrams: number,
  perPacket: number,
  prefix: string,
  at = "127.0.0.1",
): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let d = 0; d < datagrams; d++) {
    const claims: Alive[] = [];
    for (let i = 0; i < perPacket; i++) {
      const n = d * perPacket + i;
      claims.push(alive(`${prefix}-${n}`, at, 20_000 + (n % 40_000)));
    }
    out.push(packet(claims));
  }
  return out;
}

/**
 * The user-message bomb: a compound of `outer` compounds of `inner` one-byte user messages,
 * `outer · inner` messages in one datagram.
 */
export function userBomb(outer: number, inner: number): Uint8Array {
  const user = encodeMessage({ type: "user", payload: new Uint8Array([0x42]) });
  const one = encodeCompound(Array.from({ length: inner }, () => user));
  return encodeCompound(Array.from({ length: outer }, () => one));
}

/**
 * Send `datagrams` from `attacker` to `to`, `batch` at a time, waiting after each batch until
 * `received()` (the target's datagram counter, when known) caught up or `pauseMs` passed (without
 * it, `pauseMs` in any case), so
 * the kernel's receive buffer is not what limits the attack. Bounded: at most `maxMs` in all.
 */
export async function flood(
  attacker: Attacker,
  to: PeerAddress,
  datagrams: readonly Uint8Array[],
  options: { batch?: number; pauseMs?: number; maxMs?: number; received?: () => number } = {},
): Promise<{ sent: number; ms: number }> {
  const batch = options.batch ?? 16;
  const pauseMs = options.pauseMs ?? 200;
  const started = Date.now();
  const end = started + (options.maxMs ?? 60_000);
  let sent = 0;
  for (let i = 0; i < datagrams.length && Date.now() < end; i += batch) {
    const base = options.received?.() ?? 0;
    const chunk = datagrams.slice(i, i + batch);
    for (const d of chunk) await attacker.send(to, d);
    sent += chunk.length;
    const until = Date.now() + pauseMs;
    if (options.received) {
      while (options.received() < base + chunk.length && Date.now() < until) await sleep(2);
    } else {
      await sleep(pauseMs);
    }
  }
  return { sent, ms: Date.now() - started };
}
