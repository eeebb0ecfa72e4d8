/**
 * A minimal wire-level memberlist peer built only from shoal's pieces (codec, packet
 * security, stream transport, stream messages), for checking those pieces against a real Go
 * node before the core uses them. It answers UDP and TCP pings, answers push/pulls with its
 * own entry, records everything it receives, and can send packets and stream requests.
 *
 * @module
 */

import type { PeerAddress } from "../../src/core/address.ts";
import { DecodeError } from "../../src/core/codec.ts";
import type { Message, NodeState, Ping } from "../../src/core/messages.ts";
import { detectDatagramBinder, detectStreamBinder } from "../../src/transport/auto.ts";
import type { StreamConn, StreamListener } from "../../src/transport/stream_types.ts";
import { AddressInUseError, type DatagramTransport } from "../../src/transport/types.ts";
import {
  createPacketSecurity,
  decodePacket,
  encodeMessage,
  framePacket,
  type PacketSecurity,
  type PushPull,
  type SecurityOptions,
  serveStream,
  type StreamMessage,
  type StreamRequest,
  streamRequest,
} from "../../src/wire/mod.ts";

/** Options of {@linkcode MiniPeer.start}. */
export interface MiniPeerOptions {
  /** Node name. */
  readonly name: string;
  /** Keys, label and switches for packets and streams. */
  readonly security?: SecurityOptions;
  /** Compress stream messages (Go does by default). */
  readonly compress?: boolean;
  /** Bind host (default 127.0.0.1). */
  readonly host?: string;
}

const VSN = new Uint8Array([1, 5, 2, 0, 0, 0]);

/** A tiny memberlist-speaking endpoint: see the module doc. */
export class MiniPeer {
  /** Messages received over UDP. */
  readonly packets: Message[] = [];
  /** Requests received over TCP. */
  readonly streams: StreamMessage[] = [];
  /** Inbound packets or streams that failed to decode, by kind or message. */
  readonly rejected: string[] = [];
  /** The encryption version byte of every datagram received (with a keyring). */
  readonly blobVersions: number[] = [];
  readonly name: string;
  readonly #options: MiniPeerOptions;
  readonly #security: PacketSecurity;
  #udp!: DatagramTransport;
  #tcp!: StreamListener;
  #seq = 1000;
  readonly #waiters = new Set<() => void>();

  private constructor(options: MiniPeerOptions) {
    this.name = options.name;
    this.#options = options;
    this.#security = createPacketSecurity(options.security);
  }

  /**
   * Bind UDP (port chosen by the OS) and listen for TCP on the same port, retrying with a new
   * port if that TCP port happens to be taken.
   */
  static async start(options: MiniPeerOptions): Promise<MiniPeer> {
    const peer = new MiniPeer(options);
    const host = options.host ?? "127.0.0.1";
    for (let attempt = 1;; attempt++) {
      peer.#udp = await (await detectDatagramBinder()).bind({
        host,
        port: 0,
        onDatagram: (bytes, from) => void peer.#onDatagram(bytes, from),
      });
      try {
        peer.#tcp = await (await detectStreamBinder()).listen({
          host,
          port: peer.#udp.local.port,
          onConnection: (conn) => void peer.#onConnection(conn),
        });
        return peer;
      } catch (error) {
        await peer.#udp.close();
        if (!(error instanceof AddressInUseError) || attempt === 5) throw error;
      }
    }
  }

  /** The one address (UDP and TCP). */
  get address(): PeerAddress {
    return this.#udp.local;
  }

  /** This peer's push/pull entry. */
  get self(): NodeState {
    return {
      name: this.name,
      addr: new Uint8Array([127, 0, 0, 1]),
      port: this.address.port,
      meta: new TextEncoder().encode(`meta-${this.name}`),
      incarnation: 1,
      state: 0,
      vsn: VSN,
    };
  }

  /** A fresh sequence number. */
  nextSeq(): number {
    return ++this.#seq;
  }

  /** A ping addressed to `node`, with our source fields. */
  ping(node: string, seqNo = this.nextSeq()): Ping {
    return {
      type: "ping",
      seqNo,
      node,
      sourceAddr: new Uint8Array([127, 0, 0, 1]),
      sourcePort: this.address.port,
      sourceNode: this.name,
    };
  }

  /** Frame, seal and send `messages` as one datagram. */
  async send(to: PeerAddress, messages: Message[], security?: PacketSecurity): Promise<void> {
    const frame = framePacket(messages.map(encodeMessage));
    this.#udp.send(to, await (security ?? this.#security).seal(frame));
  }

  /** Dial `to`, send `request` and read the checked reply (none for a user message). */
  async request(
    to: PeerAddress,
    request: StreamRequest,
    security: SecurityOptions = this.#options.security ?? {},
  ): Promise<StreamMessage | null> {
    const options = { ...security, compress: this.#options.compress, timeoutMs: 5000 };
    const binder = await detectStreamBinder();
    // (the overloads want a concrete request type)
    return await streamRequest(binder, to, request as PushPull, options);
  }

  /** Wait until a received packet message matches `pred`. */
  waitForPacket(pred: (m: Message) => boolean, timeoutMs = 5000): Promise<Message> {
    return this.#waitFor(() => this.packets.find(pred), timeoutMs, "packet");
  }

  /** Wait until a received stream request matches `pred`. */
  waitForStream(pred: (m: StreamMessage) => boolean, timeoutMs = 5000): Promise<StreamMessage> {
    return this.#waitFor(() => this.streams.find(pred), timeoutMs, "stream message");
  }

  /** Close the sockets. */
  async close(): Promise<void> {
    await this.#tcp?.close();
    await this.#udp?.close();
  }

  #waitFor<T>(find: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = find();
        if (found === undefined) return false;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`${this.name}: no matching ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      if (!check()) this.#waiters.add(check);
    });
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }

  async #onDatagram(bytes: Uint8Array, from: PeerAddress): Promise<void> {
    let messages: Message[];
    if (this.#options.security?.keyring) this.blobVersions.push(bytes[0]);
    try {
      messages = decodePacket(await this.#security.open(bytes));
    } catch (e) {
      this.rejected.push(e instanceof DecodeError ? e.kind : String(e));
      this.#wake();
      return;
    }
    for (const m of messages) {
      this.packets.push(m);
      if (m.type === "ping" && (m.node === "" || m.node === this.name)) {
        const to = m.sourceAddr && m.sourcePort
          ? { host: m.sourceAddr.join("."), port: m.sourcePort }
          : from;
        await this.send(to, [{ type: "ack", seqNo: m.seqNo, payload: null }]);
      }
    }
    this.#wake();
  }

  async #onConnection(conn: StreamConn): Promise<void> {
    const outcome = await serveStream(conn, (m) => {
      this.streams.push(m);
      this.#wake();
      if (m.type === "pushPull") {
        return {
          type: "pushPull",
          join: m.join,
          states: [this.self],
          userState: new Uint8Array(0),
        };
      }
      if (m.type === "ping" && (m.node === "" || m.node === this.name)) {
        return { type: "ack", seqNo: m.seqNo, payload: null };
      }
      return null;
    }, { ...this.#options.security, compress: this.#options.compress, timeoutMs: 5000 });
    if (outcome.error) {
      const e = outcome.error;
      this.rejected.push(e instanceof DecodeError ? e.kind : String(e));
      this.#wake();
    }
  }
}
