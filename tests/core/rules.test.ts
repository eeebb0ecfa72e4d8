/**
 * Membership rules (protocol.md §7) on a single state machine, fed hand-made rumours.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { type ConfigOverrides, DEFAULT_VSN, resolveConfig } from "../../src/core/config.ts";
import type { Effect } from "../../src/core/effects.ts";
import type { Alive, Message } from "../../src/core/messages.ts";
import { seededRng } from "../../src/core/rng.ts";
import { Swim } from "../../src/core/swim.ts";
import { memberlistCodec } from "../../src/wire/codec.ts";

const FROM = { host: "10.0.0.9", port: 7946 };

function node(name = "me", overrides: ConfigOverrides = {}) {
  let now = 1000;
  const swim = new Swim({
    identity: { name, host: "10.0.0.1", port: 7946 },
    config: resolveConfig("lan", overrides),
    codec: memberlistCodec,
    now: () => now,
    rng: seededRng(1),
  });
  const feed = (...msgs: Message[]): Effect[] =>
    swim.handlePacket(memberlistCodec.frame(msgs.map((m) => memberlistCodec.encode(m))), FROM);
  return { swim, feed, advance: (ms: number) => (now += ms) };
}

function alive(name: string, incarnation: number, extra: Partial<Alive> = {}): Alive {
  return {
    type: "alive",
    node: name,
    incarnation,
    addr: new Uint8Array([10, 0, 0, 2]),
    port: 7946,
    meta: null,
    vsn: DEFAULT_VSN,
    ...extra,
  };
}

const events = (effects: Effect[]) =>
  effects.flatMap((e) => e.type === "event" ? [`${e.event.type}:${e.event.member.name}`] : []);

/** Rumours this node queued to gossip, decoded from what it sends on its next gossip ticks. */
function gossiped(swim: Swim): Message[] {
  const out: Message[] = [];
  for (let i = 0; i < 3; i++) {
    for (const e of swim.handleTimer({ kind: "gossip", token: 1 })) {
      if (e.type === "send") out.push(...memberlistCodec.decodePacket(e.bytes));
    }
  }
  return out;
}

describe("membership rules", () => {
  test("alive: a new member joins; incarnation 0 is ignored; stale alive ignored", () => {
    const { swim, feed } = node();
    swim.start();
    assert.deepEqual(events(feed(alive("zero", 0))), []);
    assert.equal(swim.member("zero"), undefined);
    assert.deepEqual(events(feed(alive("b", 1))), ["join:b"]);
    assert.deepEqual(events(feed(alive("b", 1))), []);
    const meta = new TextEncoder().encode("x");
    assert.deepEqual(events(feed(alive("b", 2, { meta }))), ["update:b"]);
    assert.deepEqual(events(feed(alive("b", 1, { meta: null }))), []);
    assert.equal(swim.member("b")?.incarnation, 2);
  });

  test("precedence: alive(i) < suspect(i) < alive(i+1)", () => {
    const { swim, feed } = node();
    swim.start();
    feed(alive("b", 3));
    assert.deepEqual(events(feed({ type: "suspect", node: "b", incarnation: 2, from: "c" })), []);
    assert.deepEqual(events(feed({ type: "suspect", node: "b", incarnation: 3, from: "c" })), [
      "suspect:b",
    ]);
    assert.deepEqual(events(feed(alive("b", 3))), [], "alive(i) does not clear suspect(i)");
    assert.equal(swim.member("b")?.state, "suspect");
    assert.deepEqual(events(feed(alive("b", 4))), ["alive:b"]);
    assert.equal(swim.member("b")?.state, "alive");
  });

  test("dead from the member itself means left; from another means dead", () => {
    const { swim, feed } = node();
    swim.start();
    feed(alive("b", 1), alive("c", 1));
    assert.deepEqual(events(feed({ type: "dead", node: "b", incarnation: 1, from: "b" })), [
      "leave:b",
    ]);
    assert.equal(swim.member("b")?.state, "left");
    assert.deepEqual(events(feed({ type: "dead", node: "c", incarnation: 1, from: "b" })), [
      "dead:c",
    ]);
    assert.equal(swim.member("c")?.state, "dead");
    // A left member may come back at a higher incarnation.
    assert.deepEqual(events(feed(alive("b", 2))), ["join:b"]);
  });

  test("suspect or dead about ourselves is refuted with a higher incarnation", () => {
    const { swim, feed } = node();
    swim.start();
    feed(alive("b", 1)); // someone to gossip to
    feed({ type: "suspect", node: "me", incarnation: 1, from: "x" });
    assert.equal(swim.localMember().incarnation, 2);
    assert.equal(swim.localMember().state, "alive");
    feed({ type: "dead", node: "me", incarnation: 7, from: "x" });
    assert.equal(swim.localMember().incarnation, 8);
    assert.equal(swim.localMember().state, "alive");
    assert.equal(swim.stats.refutations, 2);
    const refutes = gossiped(swim).filter((m) => m.type === "alive" && m.node === "me");
    assert.ok(refutes.length > 0);
    const incarnations = new Set(refutes.map((m) => (m as Alive).incarnation));
    assert.deepEqual([...incarnations], [8], "the newer refutation replaced the older one");
  });

  test("an alive about ourselves with other metadata is refuted; our own echo is not", () => {
    const { swim, feed } = node();
    swim.start();
    feed(alive("me", 1, { addr: new Uint8Array([10, 0, 0, 1]) }));
    assert.equal(swim.localMember().incarnation, 1);
    feed(alive("me", 1, { addr: new Uint8Array([10, 0, 0, 1]), meta: new Uint8Array([1]) }));
    assert.equal(swim.localMember().incarnation, 2);
  });

  test("same name, new address: a conflict event, and the policy decides", () => {
    const moved = { addr: new Uint8Array([10, 0, 0, 3]) };
    for (const policy of ["reject", "replace-dead", "replace"] as const) {
      const { swim, feed, advance } = node("me", { conflictPolicy: policy });
      swim.start();
      feed(alive("b", 1));
      const out = feed(alive("b", 5, moved));
      const conflict = out.find((e) => e.type === "event" && e.event.type === "conflict");
      if (policy === "replace") {
        assert.equal(conflict, undefined);
        assert.equal(swim.member("b")?.address, "10.0.0.3", policy);
        continue;
      }
      assert.ok(conflict && conflict.type === "event", policy);
      assert.deepEqual(conflict.event.conflict, { address: "10.0.0.3", port: 7946 });
      assert.equal(swim.member("b")?.address, "10.0.0.2", policy);
      assert.equal(swim.stats.conflicts, 1);
      // A death just heard of does not free the name: the live member may still refute it.
      feed({ type: "dead", node: "b", incarnation: 1, from: "c" });
      feed(alive("b", 6, moved));
      assert.equal(swim.member("b")?.address, "10.0.0.2", policy);
      // Dead for longer than deadNodeReclaimTime, "replace-dead" lets the new address take it.
      advance(10_001);
      feed(alive("b", 7, moved));
      assert.equal(swim.member("b")?.address, policy === "reject" ? "10.0.0.2" : "10.0.0.3");
    }
  });

  test("replace-dead: a restart refused while its old life lived takes the name when we declare that life dead", () => {
    const moved = { addr: new Uint8Array([10, 0, 0, 3]) };
    const { swim, feed, advance } = node();
    swim.start();
    feed(alive("b", 1));
    assert.deepEqual(events(feed(alive("b", 5, moved))), ["conflict:b"]);
    assert.equal(swim.member("b")?.address, "10.0.0.2");
    const out = feed({ type: "suspect", node: "b", incarnation: 1, from: "c" });
    const timer = out.find((e) => e.type === "schedule" && e.timer.kind === "suspicion");
    assert.ok(timer?.type === "schedule");
    advance(60_000);
    assert.deepEqual(events(swim.handleTimer(timer.timer)), ["dead:b", "join:b"]);
    const b = swim.member("b")!;
    assert.deepEqual([b.address, b.state, b.incarnation], ["10.0.0.3", "alive", 5]);
  });

  test("a dead rumour from the network does not hand a live member's name to another address", () => {
    // The hijack: [alive(b at elsewhere, higher), dead(b)] forged. b refutes and keeps its address.
    const moved = { addr: new Uint8Array([10, 0, 0, 3]) };
    const { swim, feed } = node();
    swim.start();
    feed(alive("b", 1));
    feed(alive("b", 5, moved), { type: "dead", node: "b", incarnation: 1, from: "x" });
    assert.equal(swim.member("b")?.address, "10.0.0.2");
    assert.equal(swim.member("b")?.state, "dead");
    assert.deepEqual(events(feed(alive("b", 6))), ["join:b"]);
    assert.equal(swim.member("b")?.address, "10.0.0.2");
  });

  test("with confirmDeaths, the successor takes the name when the application confirms", () => {
    const moved = { addr: new Uint8Array([10, 0, 0, 3]) };
    const { swim, feed, advance } = node("me", { confirmDeaths: true });
    swim.start();
    feed(alive("b", 1));
    feed(alive("b", 5, moved));
    const out = feed({ type: "suspect", node: "b", incarnation: 1, from: "c" });
    const timer = out.find((e) => e.type === "schedule" && e.timer.kind === "suspicion");
    assert.ok(timer?.type === "schedule");
    advance(60_000);
    assert.deepEqual(events(swim.handleTimer(timer.timer)), ["unreachable:b"]);
    assert.deepEqual(events(swim.confirmDead("b").effects), ["dead:b", "join:b"]);
    assert.equal(swim.member("b")?.address, "10.0.0.3");
  });

  test("no successor when the old address out-bids it, or under reject", () => {
    const moved = { addr: new Uint8Array([10, 0, 0, 3]) };
    const expire = (policy: "replace-dead" | "reject", refute: boolean) => {
      const { swim, feed, advance } = node("me", { conflictPolicy: policy });
      swim.start();
      feed(alive("b", 1));
      feed(alive("b", 5, moved));
      if (refute) feed(alive("b", 6));
      const inc = swim.member("b")!.incarnation;
      const out = feed({ type: "suspect", node: "b", incarnation: inc, from: "c" });
      const timer = out.find((e) => e.type === "schedule" && e.timer.kind === "suspicion");
      assert.ok(timer?.type === "schedule");
      advance(60_000);
      return { events: events(swim.handleTimer(timer.timer)), address: swim.member("b")?.address };
    };
    assert.deepEqual(expire("replace-dead", true), { events: ["dead:b"], address: "10.0.0.2" });
    assert.deepEqual(expire("reject", false), { events: ["dead:b"], address: "10.0.0.2" });
  });

  test("the hijack [dead(b), alive(b elsewhere)] fails: b refutes and keeps its address", () => {
    const moved = { addr: new Uint8Array([10, 0, 0, 3]) };
    const { swim, feed } = node();
    swim.start();
    feed(alive("b", 1));
    feed({ type: "dead", node: "b", incarnation: 1, from: "x" }, alive("b", 2, moved));
    assert.equal(swim.member("b")?.address, "10.0.0.2");
    assert.deepEqual(events(feed(alive("b", 3))), ["join:b"]);
    assert.equal(swim.member("b")?.address, "10.0.0.2");
    feed(alive("b", 4, moved));
    assert.equal(swim.member("b")?.address, "10.0.0.2", "a live member's name stays put");
  });

  test("a successor waiting on a death heard by gossip takes the name at the reclaim time", () => {
    const moved = { addr: new Uint8Array([10, 0, 0, 3]) };
    const { swim, feed, advance } = node();
    swim.start();
    feed(alive("b", 1));
    const out = feed({ type: "dead", node: "b", incarnation: 1, from: "c" }, alive("b", 9, moved));
    const reclaim = out.find((e) => e.type === "schedule" && e.timer.kind === "reclaim");
    assert.ok(reclaim?.type === "schedule", "a reclaim timer is armed");
    assert.equal(reclaim.delay, 10_000);
    advance(10_000);
    assert.deepEqual(events(swim.handleTimer(reclaim.timer)), ["join:b"]);
    assert.deepEqual([swim.member("b")?.address, swim.member("b")?.incarnation], ["10.0.0.3", 9]);
  });

  test("a name is reclaimed only at a higher incarnation", () => {
    const moved = { addr: new Uint8Array([10, 0, 0, 3]) };
    const { swim, feed, advance } = node();
    swim.start();
    feed(alive("b", 5));
    feed({ type: "dead", node: "b", incarnation: 5, from: "c" });
    advance(60_000);
    assert.deepEqual(events(feed(alive("b", 4, moved))), ["conflict:b"]);
    assert.equal(swim.member("b")?.address, "10.0.0.2");
  });

  test("confirmDeaths: an expired suspicion holds the member unreachable until confirmed", () => {
    const { swim, feed, advance } = node("me", { confirmDeaths: true });
    swim.start();
    feed(alive("b", 1), alive("c", 1));
    feed({ type: "suspect", node: "b", incarnation: 1, from: "c" });
    advance(4000);
    const out = swim.handleTimer({ kind: "suspicion", node: "b", token: 1 });
    assert.deepEqual(events(out), ["unreachable:b"]);
    assert.equal(swim.member("b")?.state, "unreachable");
    assert.equal(swim.stats.deadDeclared, 0);
    // It refutes: alive again, no death.
    assert.deepEqual(events(feed(alive("b", 2))), ["alive:b"]);
    assert.equal(swim.confirmDead("b").confirmed, false);
    // Suspected and expired again; this time the application confirms.
    feed({ type: "suspect", node: "b", incarnation: 2, from: "c" });
    advance(4000);
    swim.handleTimer({ kind: "suspicion", node: "b", token: 2 });
    const confirmed = swim.confirmDead("b");
    assert.equal(confirmed.confirmed, true);
    assert.deepEqual(events(confirmed.effects), ["dead:b"]);
    assert.equal(swim.member("b")?.state, "dead");
  });

  test("a restarted member announcing an old incarnation is told, and refutes", () => {
    // We hold b dead at incarnation 7; b restarted at incarnation 1 and announces itself.
    const { swim, feed } = node();
    swim.start();
    feed(alive("b", 7));
    feed({ type: "dead", node: "b", incarnation: 7, from: "c" });
    const out = feed(alive("b", 1));
    const told = out.filter((e) => e.type === "send").flatMap((e) =>
      e.type === "send" ? memberlistCodec.decodePacket(e.bytes) : []
    );
    assert.ok(
      told.some((m) => m.type === "dead" && m.node === "b" && m.incarnation === 7),
      "b must hear it is dead at 7, so that it refutes with 8",
    );
    assert.equal(swim.stats.corrections, 1);
  });

  test("an accusation we already refuted is answered by re-asserting our alive", () => {
    const { swim, feed } = node();
    swim.start();
    feed(alive("b", 1));
    feed({ type: "suspect", node: "me", incarnation: 1, from: "b" }); // refute → 2
    assert.equal(swim.localMember().incarnation, 2);
    feed({ type: "suspect", node: "me", incarnation: 1, from: "c" }); // stale: re-assert
    assert.equal(swim.localMember().incarnation, 2);
    assert.equal(swim.stats.reassertions, 1);
  });

  test("bad protocol versions are ignored", () => {
    const { swim, feed } = node();
    swim.start();
    feed(alive("b", 1, { vsn: new Uint8Array([0, 0, 2, 0, 0, 0]) }));
    feed(alive("c", 1, { vsn: new Uint8Array([3, 2, 2, 0, 0, 0]) }));
    assert.equal(swim.member("b"), undefined);
    assert.equal(swim.member("c"), undefined);
  });

  test("suspicion expires into dead after the memberlist timeout, not before", () => {
    const { swim, feed, advance } = node();
    swim.start();
    feed(alive("b", 1), alive("c", 1));
    const effects = feed({ type: "suspect", node: "b", incarnation: 1, from: "c" });
    const timer = effects.find((e) => e.type === "schedule" && e.timer.kind === "suspicion");
    assert.ok(timer && timer.type === "schedule");
    // n = 3 members: min = 4 s, k = 0, so the timeout is exactly min. The timer wakes at the
    // halfway point to re-gossip the accusation, then again at the end.
    assert.equal(timer.delay, 2000);
    advance(2000);
    const half = swim.handleTimer(timer.timer);
    assert.deepEqual(events(half), []);
    const again = half.find((e) => e.type === "schedule" && e.timer.kind === "suspicion");
    assert.ok(again && again.type === "schedule");
    assert.equal(again.delay, 2000);
    advance(1999);
    assert.deepEqual(events(swim.handleTimer(timer.timer)), [], "not before the timeout");
    advance(1);
    assert.deepEqual(events(swim.handleTimer(timer.timer)), ["dead:b"]);
    assert.equal(swim.stats.deadDeclared, 1);
    // A stale timer (same token, fired again) does nothing.
    assert.deepEqual(events(swim.handleTimer(timer.timer)), []);
  });

  test("a suspicion at a newer incarnation replaces a refuted one", () => {
    const { swim, feed } = node();
    swim.start();
    feed(alive("b", 1), alive("c", 1));
    feed({ type: "suspect", node: "b", incarnation: 1, from: "c" });
    feed({ type: "suspect", node: "b", incarnation: 2, from: "c" });
    assert.equal(swim.member("b")?.incarnation, 2);
    assert.equal(swim.member("b")?.state, "suspect");
  });

  test("after leave(), accusations about ourselves are not refuted and alive is ignored", () => {
    const { swim, feed } = node();
    swim.start();
    feed(alive("b", 1));
    const effects = swim.leave();
    assert.deepEqual(events(effects), ["leave:me"]);
    assert.equal(swim.localMember().state, "left");
    feed({ type: "suspect", node: "me", incarnation: 5, from: "b" });
    assert.equal(swim.localMember().incarnation, 1);
    assert.throws(() => swim.updateMeta(new Uint8Array([1])), /after leave/);
  });

  test("metadata over 512 bytes is refused with a clear error", () => {
    const { swim } = node();
    assert.throws(() => swim.updateMeta(new Uint8Array(513)), RangeError);
  });

  test("garbage is counted by kind and changes nothing", () => {
    const { swim } = node();
    swim.start();
    const before = swim.members();
    for (
      const bytes of [new Uint8Array([]), new Uint8Array([200, 1, 2]), new Uint8Array([4, 0x85])]
    ) {
      assert.deepEqual(swim.handlePacket(bytes, FROM), []);
    }
    const total = Object.values(swim.stats.decodeErrors).reduce((a, b) => a + (b ?? 0), 0);
    assert.equal(total, 3);
    assert.deepEqual(swim.members(), before);
  });
});

describe("probing", () => {
  test("a ping is answered with an ack to its source address", () => {
    const { swim, feed } = node();
    swim.start();
    const out = feed({
      type: "ping",
      seqNo: 42,
      node: "me",
      sourceAddr: new Uint8Array([10, 0, 0, 7]),
      sourcePort: 9000,
      sourceNode: "x",
    });
    const sends = out.filter((e) => e.type === "send");
    assert.equal(sends.length, 1);
    const send = sends[0];
    assert.ok(send.type === "send");
    assert.deepEqual(send.to, { host: "10.0.0.7", port: 9000 });
    assert.deepEqual(memberlistCodec.decodePacket(send.bytes), [{
      type: "ack",
      seqNo: 42,
      payload: null,
    }]);
  });

  test("a failed probe says nothing of a member that moved to another address meanwhile", () => {
    const { swim, feed, advance } = node();
    swim.start();
    feed(alive("b", 1));
    feed(alive("b", 5, { addr: new Uint8Array([10, 0, 0, 3]) })); // refused: b's successor
    const suspected = feed({ type: "suspect", node: "b", incarnation: 1, from: "c" });
    const timer = suspected.find((e) => e.type === "schedule" && e.timer.kind === "suspicion");
    assert.ok(timer?.type === "schedule");
    const tick = swim.handleTimer({ kind: "probe", token: 1 });
    assert.ok(tick.some((e) => e.type === "send" && e.to.host === "10.0.0.2"), "old b is probed");
    // Meanwhile the suspicion expires; the successor takes the name at once.
    advance(60_000);
    swim.handleTimer(timer.timer);
    assert.equal(swim.member("b")?.address, "10.0.0.3");
    const next = swim.handleTimer({ kind: "probe", token: 1 });
    assert.deepEqual(events(next), [], "the old address's silence does not accuse the new one");
    assert.ok(next.some((e) => e.type === "send" && e.to.host === "10.0.0.3"), "new b is probed");
    // A probe of the member where it is now that fails does accuse it.
    assert.deepEqual(events(swim.handleTimer({ kind: "probe", token: 1 })), ["suspect:b"]);
  });

  test("a refutation during a probe does not excuse the silence that follows it", () => {
    const { swim, feed } = node();
    swim.start();
    feed(alive("b", 1));
    swim.handleTimer({ kind: "probe", token: 1 });
    feed(alive("b", 2)); // a late refutation arrives; b itself stays silent
    assert.deepEqual(events(swim.handleTimer({ kind: "probe", token: 1 })), ["suspect:b"]);
    assert.equal(swim.member("b")?.incarnation, 2);
  });

  test("a ping for another name is not answered", () => {
    const { swim, feed } = node();
    swim.start();
    const out = feed({ type: "ping", seqNo: 1, node: "someone-else" });
    assert.equal(out.filter((e) => e.type === "send").length, 0);
    assert.equal(swim.stats.unexpectedPings, 1);
  });

  test("an indirect ping is relayed, and a nack sent when the target stays silent", () => {
    const { swim, feed } = node();
    swim.start();
    const out = feed({
      type: "indirectPing",
      seqNo: 77,
      target: new Uint8Array([10, 0, 0, 5]),
      port: 7000,
      node: "t",
      nack: true,
    });
    const ping = out.find((e) => e.type === "send");
    assert.ok(ping && ping.type === "send");
    assert.deepEqual(ping.to, { host: "10.0.0.5", port: 7000 });
    const [msg] = memberlistCodec.decodePacket(ping.bytes);
    assert.equal(msg.type, "ping");
    const timer = out.find((e) => e.type === "schedule" && e.timer.kind === "relayTimeout");
    assert.ok(timer && timer.type === "schedule");
    const after = swim.handleTimer(timer.timer).find((e) => e.type === "send");
    assert.ok(after && after.type === "send");
    assert.deepEqual(after.to, FROM);
    assert.deepEqual(memberlistCodec.decodePacket(after.bytes), [{ type: "nack", seqNo: 77 }]);
  });
});
