/**
 * A node with three keys and a label under hostile datagrams over real UDP: no unhandled
 * rejection or uncaught exception, drops counted by kind, decrypts in flight bounded, and
 * the node still answers a real peer.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { createNode, type ShoalNode } from "../../mod.ts";
import type { PeerAddress } from "../../src/core/address.ts";
import type { Codec } from "../../src/core/codec.ts";
import type { Message } from "../../src/core/messages.ts";
import { detectDatagramBinder } from "../../src/transport/auto.ts";
import {
  type DatagramHandler,
  type DatagramTransport,
  newTransportStats,
} from "../../src/transport/types.ts";
import { createMemberlistCodec } from "../../src/wire/codec.ts";
import { encryptPayload } from "../../src/wire/encryption.ts";
import { Keyring } from "../../src/wire/keyring.ts";
import { addLabelHeader, encodeLabel } from "../../src/wire/label.ts";
import { encodeCompress, encodeMessage } from "../../src/wire/mod.ts";
import { FAST, waitFor } from "./helpers.ts";

const T = { timeout: 120_000 };
const LABEL = "hostile";
const LABEL_BYTES = encodeLabel(LABEL);
const KEYS = [16, 24, 32].map((n, i) => new Uint8Array(n).fill(0x11 * (i + 1)));
const ring = () => new Keyring(KEYS[0], KEYS.slice(1));
const MAX_UDP = 65_507;

// Every process-level failure signal, on both runtimes.
const fired: string[] = [];
const onRejection = (reason: unknown) => void fired.push(`unhandledRejection: ${reason}`);
const onException = (error: unknown) => void fired.push(`uncaughtException: ${error}`);
const onEvent = (ev: Event) => {
  ev.preventDefault();
  const detail = (ev as PromiseRejectionEvent).reason ?? (ev as ErrorEvent).error;
  fired.push(`${ev.type}: ${detail}`);
};
const target = globalThis as {
  addEventListener?: (type: string, fn: (ev: Event) => void) => void;
  removeEventListener?: (type: string, fn: (ev: Event) => void) => void;
};
before(() => {
  process.on("unhandledRejection", onRejection);
  process.on("uncaughtException", onException);
  if ("Deno" in globalThis) {
    target.addEventListener?.("unhandledrejection", onEvent);
    target.addEventListener?.("error", onEvent);
  }
});
const open: { close(): Promise<void> }[] = [];
after(async () => {
  await Promise.all(open.map((n) => n.close()));
  process.off("unhandledRejection", onRejection);
  process.off("uncaughtException", onException);
  target.removeEventListener?.("unhandledrejection", onEvent);
  target.removeEventListener?.("error", onEvent);
});

/** Deterministic bytes (mulberry32), so a failing run can be replayed. */
function prng(seed: number): (n: number) => Uint8Array {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.floor(next() * 256);
    return out;
  };
}

const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const labelled = (rest: Uint8Array) => addLabelHeader(LABEL_BYTES, rest);
const seal = (keyring: Keyring, plain: Uint8Array, version: 0 | 1 = 1) =>
  encryptPayload(keyring, plain, { version, aad: LABEL_BYTES });

/** The hostile corpus, by the drop kind each group must produce at least once. */
async function corpus(): Promise<Map<string, Uint8Array[]>> {
  const rand = prng(0x5eed);
  const size = (max: number) => {
    const [hi, lo] = rand(2);
    return (hi * 256 + lo) % max;
  };
  const groups = new Map<string, Uint8Array[]>();
  const add = (kind: string, d: Uint8Array) => groups.set(kind, [...(groups.get(kind) ?? []), d]);
  const ping = encodeMessage({ type: "ping", seqNo: 7, node: "victim" });
  const wrong = new Keyring(new Uint8Array(32).fill(0xee));
  // Random bytes (no label header, or a broken one): the label check refuses them.
  for (let i = 0; i < 150; i++) add("bad-label", rand(size(1400)));
  for (const n of [MAX_UDP, 60_000, 32_768]) add("bad-label", rand(n));
  // Label headers with bad lengths, or another label.
  add("bad-label", new Uint8Array([0xf4]));
  add("bad-label", new Uint8Array([0xf4, 0]));
  add("bad-label", cat(new Uint8Array([0xf4, 255]), rand(100)));
  add("bad-label", cat(new Uint8Array([0xf4, LABEL_BYTES.length + 1]), LABEL_BYTES));
  add("bad-label", addLabelHeader(encodeLabel("hostilf"), await seal(ring(), ping)));
  add("bad-label", addLabelHeader(encodeLabel("x".repeat(255)), rand(MAX_UDP - 257)));
  add("bad-label", await seal(ring(), ping)); // right key, no label
  // Valid-looking blobs under a wrong key (both versions), sizes up to the UDP maximum.
  for (let i = 0; i < 60; i++) {
    add("decrypt-failed", labelled(await seal(wrong, rand(size(1200)), (i % 2) as 0 | 1)));
  }
  for (const n of [MAX_UDP, 50_000]) {
    add("decrypt-failed", labelled(await seal(wrong, rand(n - 100))));
  }
  add("decrypt-failed", labelled(cat(new Uint8Array([1]), rand(MAX_UDP - 10))));
  add("decrypt-failed", labelled(cat(new Uint8Array([0]), rand(MAX_UDP - 10))));
  // Truncated tags, short blobs, unknown versions, bit flips, random AAD-free blobs.
  const good = await seal(ring(), ping);
  for (let cut = 1; cut <= 16; cut++) {
    add("decrypt-failed", labelled(good.subarray(0, good.length - cut)));
  }
  for (let n = 0; n < 45; n += 3) {
    add("decrypt-failed", labelled(cat(new Uint8Array([n % 2]), rand(n))));
  }
  for (const v of [2, 0x7f, 0xff]) {
    add("decrypt-failed", labelled(cat(new Uint8Array([v]), good.subarray(1))));
  }
  for (let i = 0; i < 30; i++) {
    const flipped = good.slice();
    flipped[1 + (i * 7) % (flipped.length - 1)] ^= 1 << (i % 8);
    add("decrypt-failed", labelled(flipped));
  }
  // A version-1 blob relabelled version 0 (the version byte is not authenticated): it
  // decrypts, then its "padding" is invalid.
  const noPad = await seal(ring(), cat(ping, new Uint8Array(16)));
  noPad[0] = 0;
  add("decrypt-failed", labelled(noPad));
  // Right keys (each of the three), hostile plaintext: the decoder's kinds.
  for (let i = 0; i < 60; i++) {
    const keyring = new Keyring(KEYS[i % 3]);
    add("decoded", labelled(await seal(keyring, rand(size(1300)), (i % 2) as 0 | 1)));
  }
  add("decoded", labelled(await seal(ring(), new Uint8Array(0))));
  add("decoded", labelled(await seal(ring(), encodeCompress(new Uint8Array(1 << 21).fill(8)))));
  add("decoded", labelled(await seal(ring(), rand(MAX_UDP - 100))));
  return groups;
}

/** A raw UDP socket on loopback that counts nothing and ignores what it receives. */
async function rawSender(): Promise<DatagramTransport> {
  const binder = await detectDatagramBinder();
  const t = await binder.bind({ host: "127.0.0.1", port: 0, onDatagram: () => {} });
  open.push(t);
  return t;
}

/** Like waitFor, but a timeout is not a failure (UDP may lose datagrams). */
async function settle(predicate: () => boolean, timeoutMs: number): Promise<void> {
  await waitFor(predicate, timeoutMs).catch(() => {});
}

const dropped = (n: ShoalNode, kind: string) => n.stats().core.decodeErrors[kind as "empty"] ?? 0;

test(
  "three keys and a label: hostile datagrams are dropped by kind, the node lives",
  T,
  async () => {
    const victim = await createNode({
      name: "victim",
      bind: "127.0.0.1:0",
      config: FAST,
      keys: ring(),
      label: LABEL,
    });
    open.push(victim);
    const to: PeerAddress = { host: "127.0.0.1", port: victim.address.port };
    const sender = await rawSender();
    const groups = await corpus();
    const decodeKinds = () =>
      Object.entries(victim.stats().core.decodeErrors)
        .filter(([k]) => !["bad-label", "decrypt-failed", "overloaded"].includes(k))
        .reduce((s, [, n]) => s + (n ?? 0), 0);
    const counters: Record<string, () => number> = {
      "bad-label": () => dropped(victim, "bad-label"),
      "decrypt-failed": () => dropped(victim, "decrypt-failed"),
      decoded: decodeKinds,
    };
    const deadline = Date.now() + 60_000;
    for (const [kind, datagrams] of groups) {
      // Paced in batches of at most 8 datagrams and 64 KiB, which the kernel's receive
      // buffer holds.
      for (let i = 0; i < datagrams.length;) {
        const batch = [datagrams[i++]];
        let bytes = batch[0].length;
        while (i < datagrams.length && batch.length < 8 && bytes + datagrams[i].length <= 65_536) {
          bytes += datagrams[i].length;
          batch.push(datagrams[i++]);
        }
        const before = victim.stats().core.packetsIn;
        for (const d of batch) sender.send(to, d);
        const wait = Math.max(0, Math.min(2000, deadline - Date.now()));
        await settle(() => victim.stats().core.packetsIn >= before + batch.length, wait);
      }
      assert.ok(counters[kind]() > 0, `${kind}: ${JSON.stringify(victim.stats().core)}`);
    }
    // One unpaced burst of small blobs, to press on the bound (the kernel may drop some).
    const burst = groups.get("decrypt-failed")!.filter((d) => d.length <= 1300);
    const sentBefore = sender.stats.packetsOut + sender.stats.sendErrors;
    for (let round = 0; round < 8; round++) for (const d of burst) sender.send(to, d);
    const total = 8 * burst.length;
    await waitFor(
      () => sender.stats.packetsOut + sender.stats.sendErrors === sentBefore + total,
      10_000,
      "the burst to leave",
    );
    const inBefore = victim.stats().core.packetsIn;
    await settle(() => victim.stats().core.packetsIn >= inBefore + total, 3000);
    await waitFor(() => victim.stats().decrypts!.inFlight === 0, 10_000, "decrypts to finish");

    const stats = victim.stats();
    assert.deepEqual(fired, []);
    assert.equal(stats.internalErrors, 0);
    assert.equal(stats.decrypts!.limit, 256);
    assert.ok(stats.decrypts!.peak >= 1 && stats.decrypts!.peak <= 256, `${stats.decrypts!.peak}`);
    assert.deepEqual(victim.members().map((m) => m.name), ["victim"]);

    // A real peer with the same keys and label joins, and its probes are answered.
    const peer = await createNode({
      name: "peer",
      bind: "127.0.0.1:0",
      seeds: [`127.0.0.1:${victim.address.port}`],
      config: FAST,
      keys: [KEYS[2], KEYS[0]],
      label: LABEL,
    });
    open.push(peer);
    await waitFor(() => victim.member("peer")?.state === "alive", 10_000, "the peer joins");
    const acks = peer.stats().core.acksReceived;
    await waitFor(() => peer.stats().core.acksReceived >= acks + 3, 10_000, "acks from victim");
    assert.equal(peer.member("victim")?.state, "alive");
    assert.deepEqual(fired, []);
    assert.equal(victim.stats().internalErrors, 0);
  },
);

/** A transport that hands the test its node's datagram handler. */
function captureBinder() {
  const sent: Uint8Array[] = [];
  const box: { deliver?: DatagramHandler } = {};
  const binder = {
    name: "capture",
    bind(options: { host: string; port: number; onDatagram: DatagramHandler }) {
      box.deliver = options.onDatagram;
      const t: DatagramTransport = {
        local: { host: "127.0.0.1", port: 40_000 },
        stats: newTransportStats(),
        send: (_to, bytes) => void sent.push(bytes),
        close: () => Promise.resolve(),
      };
      return Promise.resolve(t);
    },
  };
  return { binder, box, sent };
}

test("decrypts in flight are bounded; the excess is dropped as overloaded", T, async () => {
  const { binder, box } = captureBinder();
  const node = await createNode({
    name: "bounded",
    bind: "127.0.0.1:40000",
    transport: binder,
    streams: false,
    keepAlive: false,
    keys: ring(),
    label: LABEL,
    maxDecryptsInFlight: 8,
  });
  open.push(node);
  const wrong = new Keyring(new Uint8Array(16).fill(0x99));
  const blob = labelled(await seal(wrong, new Uint8Array(64)));
  const from = { host: "127.0.0.9", port: 9 };
  for (let i = 0; i < 500; i++) box.deliver!(blob, from); // one synchronous flood
  assert.deepEqual(node.stats().decrypts, { inFlight: 8, peak: 8, limit: 8 });
  assert.equal(dropped(node, "overloaded"), 492);
  await waitFor(() => node.stats().decrypts!.inFlight === 0, 10_000, "decrypts to finish");
  assert.equal(dropped(node, "decrypt-failed"), 8);
  // Once drained, datagrams are opened again.
  box.deliver!(blob, from);
  await waitFor(() => dropped(node, "decrypt-failed") === 9, 10_000, "the next decrypt");
  assert.equal(node.stats().decrypts!.peak, 8);
  await assert.rejects(
    createNode({ name: "x", transport: binder, streams: false, maxDecryptsInFlight: 0 }),
    RangeError,
  );
});

/** memberlist's codec, except that encoding `failOn` messages throws a RangeError. */
function failingCodec(failOn: Message["type"]): Codec {
  const real = createMemberlistCodec();
  return {
    encode(message) {
      if (message.type === failOn) throw new RangeError(`refusing to encode ${failOn}`);
      return real.encode(message);
    },
    packer: (budget, options) => real.packer(budget, options),
    decodePacket: (bytes) => real.decodePacket(bytes),
  };
}

test(
  "a core step throwing RangeError from a packet or a timer is an internal error",
  T,
  async () => {
    const base = { bind: "127.0.0.1:0", config: FAST, keys: ring(), label: LABEL };
    // This one cannot encode pings: its probe timer throws once it has a member.
    const noPing = await createNode({ ...base, name: "noping", codec: failingCodec("ping") });
    open.push(noPing);
    // This one cannot encode acks: a ping to it throws in the packet path.
    const noAck = await createNode({
      ...base,
      name: "noack",
      seeds: [`127.0.0.1:${noPing.address.port}`],
      codec: failingCodec("ack"),
    });
    open.push(noAck);
    await waitFor(() => noPing.stats().internalErrors > 0, 10_000, "a probe timer to fail");
    const sender = await rawSender();
    const ping = encodeMessage({ type: "ping", seqNo: 1, node: "noack" });
    const before = noAck.stats().internalErrors;
    for (let i = 0; i < 5; i++) {
      sender.send(
        { host: "127.0.0.1", port: noAck.address.port },
        labelled(await seal(ring(), ping)),
      );
    }
    await waitFor(() => noAck.stats().internalErrors > before, 10_000, "a ping to fail");
    assert.deepEqual(fired, []);
    // An API call still hands its caller the RangeError.
    await assert.rejects(noAck.updateMeta(new Uint8Array(600)), RangeError);
  },
);
