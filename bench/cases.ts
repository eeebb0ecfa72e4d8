/**
 * The micro-benchmark cases, shared by the `deno bench` files (codec.bench.ts, core.bench.ts)
 * and the cross-runtime mitata runner (mitata.ts), so Deno and Bun time the same code.
 *
 * Each case is a function run once per iteration; async cases return a promise.
 *
 * @module
 */

import { DEFAULT_VSN, lanConfig } from "../src/core/config.ts";
import type { Message, NodeState } from "../src/core/messages.ts";
import { seededRng } from "../src/core/rng.ts";
import { Swim } from "../src/core/swim.ts";
import type { Timer } from "../src/core/effects.ts";
import { BroadcastQueue } from "../src/core/broadcasts.ts";
import {
  crc32,
  decodePacket,
  decryptPayload,
  encodeCompress,
  encodeMessage,
  encryptPayload,
  Keyring,
  lzwCompress,
  lzwDecompress,
  memberlistCodec,
} from "../src/wire/mod.ts";

/** One benchmark. */
export interface BenchCase {
  /** Group (a table section). */
  readonly group: string;
  /** Name within the group. */
  readonly name: string;
  /** The measured work (one iteration). */
  readonly fn: () => unknown;
  /** The first case of a group is its baseline. */
  readonly baseline?: boolean;
  /** `fn` returns a promise. */
  readonly async?: boolean;
}

let sink: unknown;

/** Register `cases` with `Deno.bench` (results are kept alive so no work is optimized out). */
export function denoBench(cases: readonly BenchCase[]): void {
  for (const c of cases) {
    const options = { group: c.group, baseline: c.baseline ?? false };
    const fn = c.fn;
    if (c.async) {
      Deno.bench(c.name, options, async () => {
        sink = await fn();
      });
    } else {
      Deno.bench(c.name, options, () => {
        sink = fn();
      });
    }
  }
}

/** The last result, so benchmarked work is never dead code. */
export function lastResult(): unknown {
  return sink;
}

const text = (s: string) => new TextEncoder().encode(s);

// MARK: messages

const MESSAGES: Record<string, Message> = {
  ping: {
    type: "ping",
    seqNo: 123_456,
    node: "node-b",
    sourceAddr: new Uint8Array([127, 0, 0, 1]),
    sourcePort: 7946,
    sourceNode: "node-a",
  },
  indirectPing: {
    type: "indirectPing",
    seqNo: 123_456,
    target: new Uint8Array([10, 0, 0, 3]),
    port: 7946,
    node: "node-c",
    nack: true,
    sourceAddr: new Uint8Array([10, 0, 0, 1]),
    sourcePort: 7946,
    sourceNode: "node-a",
  },
  ack: { type: "ack", seqNo: 123_456, payload: null },
  nack: { type: "nack", seqNo: 123_456 },
  suspect: { type: "suspect", incarnation: 42, node: "node-c", from: "node-a" },
  alive: {
    type: "alive",
    incarnation: 42,
    node: "node-a.example.internal",
    addr: new Uint8Array([10, 0, 0, 17]),
    port: 7946,
    meta: text("role=web,zone=eu-west-1a"),
    vsn: DEFAULT_VSN,
  },
  dead: { type: "dead", incarnation: 42, node: "node-c", from: "node-a" },
  user: { type: "user", payload: text("a user message of about forty bytes....") },
};

// A full packet: a ping followed by as many rumours as fit in 1400 bytes.
const pingBytes = encodeMessage(MESSAGES.ping);
const parts: Uint8Array[] = [pingBytes];
{
  let size = pingBytes.length;
  for (let i = 0;; i++) {
    const rumour = encodeMessage(
      i % 2
        ? { ...(MESSAGES.alive as Extract<Message, { type: "alive" }>), node: `node-${i}` }
        : { type: "suspect", incarnation: i, node: `node-${i}`, from: "node-a" },
    );
    if (size + rumour.length + memberlistCodec.overhead(parts.length + 1) > 1400) break;
    parts.push(rumour);
    size += rumour.length;
  }
}
const compound = memberlistCodec.frame(parts);
const compoundCrc = memberlistCodec.frame(parts, { crc: true });
const kilobyte = compound.subarray(0, 1024);
const kilobyteLzw = lzwCompress(kilobyte);
const compressed = encodeCompress(compound);

/** Encode and decode of every packet message type, framing, CRC and LZW. */
export function codecCases(): BenchCase[] {
  const out: BenchCase[] = [];
  for (const [name, message] of Object.entries(MESSAGES)) {
    out.push({
      group: "encode",
      name,
      fn: () => encodeMessage(message),
      baseline: name === "ping",
    });
  }
  for (const [name, message] of Object.entries(MESSAGES)) {
    const bytes = encodeMessage(message);
    out.push({
      group: "decode",
      name,
      fn: () => decodePacket(bytes),
      baseline: name === "ping",
    });
  }
  out.push(
    {
      group: "packet",
      name: `frame compound (${parts.length} parts, ${compound.length} B)`,
      fn: () => memberlistCodec.frame(parts),
      baseline: true,
    },
    {
      group: "packet",
      name: "frame compound + CRC",
      fn: () => memberlistCodec.frame(parts, { crc: true }),
    },
    { group: "packet", name: "decode compound", fn: () => decodePacket(compound) },
    { group: "packet", name: "decode compound + CRC", fn: () => decodePacket(compoundCrc) },
    { group: "packet", name: "decode LZW-compressed compound", fn: () => decodePacket(compressed) },
    { group: "checksum", name: "CRC-32 of 1400 B", fn: () => crc32(compound), baseline: true },
    { group: "lzw", name: "LZW compress 1 KB", fn: () => lzwCompress(kilobyte), baseline: true },
    { group: "lzw", name: "LZW decompress 1 KB", fn: () => lzwDecompress(kilobyteLzw, 1 << 20) },
  );
  return out;
}

/** AES-GCM seal and open of a full datagram (async, WebCrypto). */
export async function cryptoCases(): Promise<BenchCase[]> {
  const key = new Uint8Array(32).fill(7);
  const ring = new Keyring(key);
  const sealed = await encryptPayload(ring, compound);
  // A ring where the sender's key is the last of three: open tries each key in turn.
  const rotated = new Keyring(new Uint8Array(32).fill(1), [new Uint8Array(32).fill(2), key]);
  await rotated.cryptoKeys();
  return [
    {
      group: "aes-gcm",
      name: `seal ${compound.length} B`,
      fn: () => encryptPayload(ring, compound),
      baseline: true,
      async: true,
    },
    {
      group: "aes-gcm",
      name: `open ${compound.length} B`,
      fn: () => decryptPayload(ring, sealed),
      async: true,
    },
    {
      group: "aes-gcm",
      name: "open with the third key of the ring",
      fn: () => decryptPayload(rotated, sealed),
      async: true,
    },
  ];
}

// MARK: core

const FROM = { host: "10.0.0.9", port: 7946 };

/** A started core that already knows `n` alive members (no join traffic). */
function coreWith(n: number): { swim: Swim; probe: Timer; gossip: Timer } {
  const known: NodeState[] = [];
  for (let i = 0; i < n; i++) {
    known.push({
      name: `member-${i}`,
      addr: new Uint8Array([10, 1 + (i >> 16), (i >> 8) & 255, i & 255]),
      port: 7946,
      meta: null,
      incarnation: 1,
      state: 0,
      vsn: DEFAULT_VSN,
    });
  }
  const swim = new Swim({
    identity: { name: "me", host: "10.0.0.1", port: 7946 },
    config: lanConfig,
    codec: memberlistCodec,
    now: () => 0,
    rng: seededRng(1),
    knownMembers: known,
  });
  let probe: Timer | undefined, gossip: Timer | undefined;
  for (const e of swim.start()) {
    if (e.type === "schedule" && e.timer.kind === "probe") probe = e.timer;
    if (e.type === "schedule" && e.timer.kind === "gossip") gossip = e.timer;
  }
  return { swim, probe: probe!, gossip: gossip! };
}

/** Members in the core cases. */
export const CORE_SIZES: readonly number[] = [10, 1_000, 10_000];

/**
 * The core's handling of one packet and one tick, with `n` members known: a ping answered
 * by an ack (CRC-framed), an alive rumour that is not news, a probe tick (ping out) plus the
 * ack that ends it, and a gossip tick with rumours queued.
 */
export function coreCases(sizes: readonly number[] = CORE_SIZES): BenchCase[] {
  const out: BenchCase[] = [];
  for (const n of sizes) {
    const group = `core, n = ${n.toLocaleString("en-US")}`;
    const { swim, probe } = coreWith(n);
    const ping = memberlistCodec.encode({
      type: "ping",
      seqNo: 1,
      node: "me",
      sourceAddr: new Uint8Array([10, 1, 0, 5]),
      sourcePort: 7946,
      sourceNode: "member-5",
    });
    const alive = memberlistCodec.encode({
      type: "alive",
      incarnation: 1,
      node: `member-${n >> 1}`,
      addr: new Uint8Array([10, 1 + (n >> 17), ((n >> 1) >> 8) & 255, (n >> 1) & 255]),
      port: 7946,
      meta: null,
      vsn: DEFAULT_VSN,
    });
    out.push({
      group,
      name: "packet: ping → ack",
      fn: () => swim.handlePacket(ping, FROM),
      baseline: true,
    });
    out.push({
      group,
      name: "packet: alive, not news",
      fn: () => swim.handlePacket(alive, FROM),
    });
    // Probe ticks with nothing else going on use consecutive sequence numbers from 1.
    let seq = 0;
    out.push({
      group,
      name: "tick: probe (ping out) + its ack",
      fn: () => {
        const effects = swim.handleTimer(probe);
        seq++;
        swim.handlePacket(memberlistCodec.encode({ type: "ack", seqNo: seq, payload: null }), FROM);
        return effects;
      },
    });
    // A gossip tick with a backlog: re-queue 8 suspicions-then-refutations each iteration
    // (alive at a higher incarnation keeps the member alive), then gossip.
    const g = coreWith(n);
    const addrs = Array.from({ length: 8 }, (_, i) => {
      const j = (i * 7919) % n;
      return new Uint8Array([10, 1 + (j >> 16), (j >> 8) & 255, j & 255]);
    });
    let inc = 1;
    out.push({
      group,
      name: "8 alive rumours in, then a gossip tick",
      fn: () => {
        inc++;
        for (let i = 0; i < 8; i++) {
          const j = (i * 7919) % n;
          g.swim.handlePacket(
            memberlistCodec.encode({
              type: "alive",
              incarnation: inc,
              node: `member-${j}`,
              addr: addrs[i],
              port: 7946,
              meta: null,
              vsn: DEFAULT_VSN,
            }),
            FROM,
          );
        }
        return g.swim.handleTimer(g.gossip);
      },
    });
  }
  return out;
}

/** Per-packet dissemination cost does not grow with the backlog (100 vs 10,000 queued). */
export function queueCases(): BenchCase[] {
  const out: BenchCase[] = [];
  for (const backlog of [100, 10_000]) {
    const queue = new BroadcastQueue();
    const rumour = (i: number) =>
      memberlistCodec.encode({ type: "suspect", node: `member-${i}`, incarnation: 1, from: "x" });
    const rumours = Array.from({ length: backlog }, (_, i) => rumour(i));
    for (let i = 0; i < backlog; i++) queue.enqueue(`k${i}`, rumours[i]);
    let next = 0;
    out.push({
      group: "broadcast queue",
      name: `refill 40 + fill one packet, backlog ${backlog.toLocaleString("en-US")}`,
      fn: () => {
        for (let i = 0; i < 40; i++, next++) {
          queue.enqueue(`k${next % backlog}`, rumours[next % backlog]);
        }
        const packer = memberlistCodec.packer(1400);
        packer.add(rumours[0]);
        queue.take(packer, 0, 1_000_000);
        return packer.finish();
      },
      baseline: backlog === 100,
    });
  }
  return out;
}
