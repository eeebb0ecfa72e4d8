/**
 * Wire-level interop with a real Go memberlist 0.2.2 node (tests/interop/peer): shoal's
 * codec, packet security, stream transport and stream messages, driven by a minimal peer
 * (mini_peer.ts), against Go — plain, compressed and uncompressed, and encrypted (versions 0
 * and 1, key rotation, wrong keys). Every scenario ends with zero ERR/WARN lines in the Go
 * log, except the lines a scenario provokes on purpose. Labels don't exist in 0.2.2: they
 * are checked shoal ↔ shoal at the end.
 *
 * Skips with a reason when Go can't be built outside CI; fails in CI.
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Ack, Message, UserMessage } from "../../src/core/messages.ts";
import { createPacketSecurity, formatKey, Keyring, type PushPull } from "../../src/wire/mod.ts";
import { GoPeer, goPeerBinary, sleep, stopAllGoPeers } from "./go_peer.ts";
import { MiniPeer } from "./mini_peer.ts";

const binary = await goPeerBinary();
if (binary.skip) console.warn(binary.skip);
const T = { timeout: 60_000, skip: binary.skip };
const KEY = new TextEncoder().encode("0123456789abcdef");
const KEY_B64 = formatKey(KEY);
const VSN = [1, 5, 2, 0, 0, 0];

const minis: MiniPeer[] = [];
after(async () => {
  await stopAllGoPeers();
  await Promise.all(minis.map((m) => m.close()));
});

async function mini(options: Parameters<typeof MiniPeer.start>[0]): Promise<MiniPeer> {
  const m = await MiniPeer.start(options);
  minis.push(m);
  return m;
}

function isAck(seqNo: number): (m: Message) => boolean {
  return (m) => m.type === "ack" && m.seqNo === seqNo;
}

function assertClean(go: GoPeer, allowed: RegExp[] = []): void {
  const problems = go.problems().filter((l) => !allowed.some((a) => a.test(l)));
  assert.deepEqual(problems, [], `unexpected ERR/WARN lines in ${go.name}'s log`);
}

/** Ping, push/pull both ways, TCP ping and user messages both ways, against one Go node. */
async function fullExchange(go: GoPeer, ts: MiniPeer): Promise<void> {
  const steps: string[] = [];
  try {
    await exchangeSteps(go, ts, steps);
  } catch (error) {
    throw new Error(
      `failed at step "${steps.at(-1)}": ${error}\nrejected by ${ts.name}: ${ts.rejected}\n` +
        `received: ${ts.packets.map((p) => p.type)}\n${go.name}'s log:\n${go.tail(40)}`,
    );
  }
}

async function exchangeSteps(go: GoPeer, ts: MiniPeer, steps: string[]): Promise<void> {
  // UDP ping → ack
  steps.push("UDP ping → ack");
  const seq = ts.nextSeq();
  await ts.send(go.address, [ts.ping(go.name, seq)]);
  await ts.waitForPacket(isAck(seq));

  // push/pull (join) over TCP: our one entry out, Go's table back
  steps.push("push/pull (join) over TCP: our one entry out, Go's table back");
  const reply = await ts.request(go.address, {
    type: "pushPull",
    join: true,
    states: [ts.self],
    userState: new Uint8Array(0),
  });
  assert.equal(reply?.type, "pushPull");
  const pp = reply as PushPull;
  assert.equal(pp.join, true);
  const entry = pp.states.find((s) => s.name === go.name);
  assert.ok(entry, `Go's reply lacks its own entry: ${JSON.stringify(pp.states)}`);
  assert.deepEqual([...entry.addr], [127, 0, 0, 1]);
  assert.equal(entry.port, go.address.port);
  assert.equal(entry.state, 0);
  assert.deepEqual([...entry.vsn.subarray(0, 2)], VSN.slice(0, 2)); // PMin 1, PMax 5
  assert.equal(entry.vsn.length, 6);
  await go.waitForMembers(
    (ms) =>
      ms.some((m) => m.name === ts.name && m.state === "alive" && m.meta === `meta-${ts.name}`),
    `${ts.name} alive in Go's table`,
  );

  // Go joins us: its push/pull arrives on our listener, our reply goes back
  steps.push("Go joins us: its push/pull arrives on our listener, our reply goes back");
  const joined = await go.command(`join ${ts.address.host}:${ts.address.port}`);
  assert.equal(joined.ok, true, joined.error);
  const theirs = await ts.waitForStream((m) => m.type === "pushPull" && m.join);
  assert.ok((theirs as PushPull).states.some((s) => s.name === go.name));

  // TCP ping (the fallback probe) → ack
  steps.push("TCP ping (the fallback probe) → ack");
  const tcpSeq = ts.nextSeq();
  const ack = await ts.request(go.address, ts.ping(go.name, tcpSeq));
  assert.deepEqual(ack, { type: "ack", seqNo: tcpSeq, payload: null } satisfies Ack);

  // user messages, Go → us: best effort (UDP) and reliable (TCP)
  steps.push("user messages, Go → us: best effort (UDP) and reliable (TCP)");
  assert.equal((await go.command(`send-best-effort ${ts.name} udp-from-go`)).ok, true);
  assert.equal((await go.command(`send-reliable ${ts.name} tcp-from-go`)).ok, true);
  const text = (m: { payload: Uint8Array }) => new TextDecoder().decode(m.payload);
  await ts.waitForPacket((m) => m.type === "user" && text(m) === "udp-from-go");
  await ts.waitForStream((m) => m.type === "user" && text(m) === "tcp-from-go");

  // user messages, us → Go
  steps.push("user messages, us → Go");
  const user = (s: string): UserMessage => ({ type: "user", payload: new TextEncoder().encode(s) });
  await ts.send(go.address, [user("udp-from-ts")]);
  assert.equal(await ts.request(go.address, user("tcp-from-ts")), null);
  await go.waitFor((e) => e.event === "user" && e.text === "udp-from-ts", 5000);
  await go.waitFor((e) => e.event === "user" && e.text === "tcp-from-ts", 5000);

  // a Go broadcast reaches us piggy-backed on gossip
  steps.push("a Go broadcast reaches us piggy-backed on gossip");
  assert.equal((await go.command("broadcast bcast-from-go")).ok, true);
  await ts.waitForPacket((m) => m.type === "user" && text(m) === "bcast-from-go");

  // a few of Go's probe rounds later we are still alive to it (our acks work)
  steps.push("soak: Go keeps probing us");
  const pings = ts.packets.filter((m) => m.type === "ping").length;
  await sleep(1200);
  assert.ok(ts.packets.filter((m) => m.type === "ping").length > pings, "Go stopped probing us");
  const me = (await go.members()).find((m) => m.name === ts.name);
  assert.equal(me?.state, "alive");
}

/** Go's timing for these tests: fast probes so a short soak covers several rounds. */
const FAST = { probeInterval: 200, probeTimeout: 100, gossipInterval: 50 };

describe("interop with Go memberlist 0.2.2 (wire level)", () => {
  test("plaintext, compression on (Go's default)", T, async () => {
    const go = await GoPeer.start(binary.path!, { ...FAST, name: "go-plain" });
    const ts = await mini({ name: "ts-plain" });
    await fullExchange(go, ts);
    assert.deepEqual(ts.rejected, []);
    assertClean(go);
  });

  test("plaintext, compression off on both sides", T, async () => {
    const go = await GoPeer.start(binary.path!, { ...FAST, name: "go-nocomp", compress: false });
    const ts = await mini({ name: "ts-nocomp", compress: false });
    await fullExchange(go, ts);
    assert.deepEqual(ts.rejected, []);
    assertClean(go);
  });

  test("encrypted (AES-128, version 1), we compress streams like Go", T, async () => {
    const go = await GoPeer.start(binary.path!, { ...FAST, name: "go-enc", keys: [KEY_B64] });
    const ts = await mini({
      name: "ts-enc",
      compress: true,
      security: { keyring: new Keyring(KEY) },
    });
    await fullExchange(go, ts);
    assert.deepEqual(ts.rejected, []);
    assertClean(go);
  });

  test("we encrypt with version 0; a rotated keyring", T, async () => {
    const aes256 = crypto.getRandomValues(new Uint8Array(32));
    const go = await GoPeer.start(binary.path!, {
      ...FAST,
      name: "go-v0",
      keys: [formatKey(aes256), KEY_B64],
    });
    // Our primary is Go's secondary key: Go decrypts with any key of its ring.
    const ring = new Keyring(KEY, [aes256]);
    const ts = await mini({ name: "ts-v0", security: { keyring: ring, encryptionVersion: 0 } });
    await fullExchange(go, ts);
    ring.use(aes256);
    ring.remove(KEY);
    const seq = ts.nextSeq();
    await ts.send(go.address, [ts.ping(go.name, seq)]);
    await ts.waitForPacket(isAck(seq));
    assert.deepEqual(ts.rejected, []);
    assertClean(go);
  });

  test("Go speaking protocol 1 encrypts with version 0: we decrypt it", T, async () => {
    // (A protocol-1 node replaces push/pull ports with its own, so only pings here.)
    const go = await GoPeer.start(binary.path!, { name: "go-p1", keys: [KEY_B64], protocol: 1 });
    const ts = await mini({ name: "ts-p1", security: { keyring: new Keyring(KEY) } });
    const seq = ts.nextSeq();
    await ts.send(go.address, [ts.ping(go.name, seq)]);
    await ts.waitForPacket(isAck(seq));
    assert.deepEqual(ts.blobVersions, [0]);
    const tcpSeq = ts.nextSeq();
    const ack = await ts.request(go.address, ts.ping(go.name, tcpSeq));
    assert.deepEqual(ack, { type: "ack", seqNo: tcpSeq, payload: null });
    assert.deepEqual(ts.rejected, []);
    assertClean(go);
  });

  test("a wrong key or no key is kept out; Go logs it and stays healthy", T, async () => {
    const go = await GoPeer.start(binary.path!, { name: "go-guard", keys: [KEY_B64] });
    const wrong = await mini({
      name: "ts-wrong",
      security: { keyring: new Keyring(new Uint8Array(16).fill(7)) },
    });
    const none = await mini({ name: "ts-none" });
    const seqWrong = wrong.nextSeq(), seqNone = none.nextSeq();
    await wrong.send(go.address, [wrong.ping(go.name, seqWrong)]);
    await none.send(go.address, [none.ping(go.name, seqNone)]);
    const join = { type: "pushPull", join: true, userState: new Uint8Array(0) } as const;
    // Go answers an undecryptable stream with an err message (encrypted with its key).
    await assert.rejects(wrong.request(go.address, { ...join, states: [wrong.self] }), (e) => {
      return (e as { kind?: string }).kind === "decrypt-failed";
    });
    // ... and a plaintext one with an (encrypted) err: a keyless reader can't open it either.
    await assert.rejects(none.request(go.address, { ...join, states: [none.self] }), (e) => {
      return (e as { kind?: string }).kind === "decrypt-failed";
    });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(wrong.packets.some(isAck(seqWrong)), false);
    assert.equal(none.packets.some(isAck(seqNone)), false);
    const members = await go.members();
    assert.deepEqual(members.map((m) => m.name), ["go-guard"]);
    const problems = go.problems();
    assert.ok(problems.some((l) => /Decrypt packet failed/.test(l)), go.tail());
    assert.ok(problems.some((l) => /failed to receive/.test(l)), go.tail());
    // a keyed peer still gets in afterwards
    const good = await mini({ name: "ts-good", security: { keyring: new Keyring(KEY) } });
    const seq = good.nextSeq();
    await good.send(go.address, [good.ping(go.name, seq)]);
    await good.waitForPacket(isAck(seq));
    assertClean(go, [/Decrypt packet failed/, /failed to receive/, /Failed to decode ping/]);
  });

  test(
    "a rolling upgrade: Go still accepting plaintext takes our encrypted packets",
    T,
    async () => {
      const go = await GoPeer.start(binary.path!, {
        name: "go-rolling",
        keys: [KEY_B64],
        verifyIncoming: false,
        verifyOutgoing: false,
      });
      const plain = await mini({ name: "ts-plain2" });
      const sealed = await mini({
        name: "ts-sealed",
        security: { keyring: new Keyring(KEY), verifyIncoming: false },
      });
      for (const ts of [plain, sealed]) {
        const seq = ts.nextSeq();
        await ts.send(go.address, [ts.ping(go.name, seq)]);
        await ts.waitForPacket(isAck(seq));
        const reply = await ts.request(go.address, {
          type: "pushPull",
          join: true,
          states: [ts.self],
          userState: new Uint8Array(0),
        });
        assert.equal(reply?.type, "pushPull");
      }
      assertClean(go);
    },
  );
});

describe("labels (memberlist ≥ 0.3, shoal ↔ shoal)", () => {
  test("labelled peers talk; a different label or none is refused", T, async () => {
    const keyring = new Keyring(KEY);
    const a = await mini({ name: "lab-a", security: { keyring, label: "blue" } });
    const b = await mini({ name: "lab-b", security: { keyring, label: "blue" } });
    const c = await mini({ name: "lab-c", security: { keyring, label: "green" } });
    const seq = a.nextSeq();
    await a.send(b.address, [a.ping(b.name, seq)]);
    await a.waitForPacket(isAck(seq));
    const reply = await a.request(b.address, {
      type: "pushPull",
      join: false,
      states: [a.self],
      userState: new Uint8Array(0),
    });
    assert.equal((reply as PushPull).states[0].name, "lab-b");
    await c.send(b.address, [c.ping(b.name)]);
    await b.send(b.address, [b.ping(b.name)], createPacketSecurity({ keyring }));
    await assert.rejects(c.request(b.address, c.ping(b.name)));
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(b.rejected.sort(), ["bad-label", "bad-label", "bad-label"]);
  });
});
