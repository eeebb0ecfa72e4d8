/** What remote input may grow or change in the core: each bound, and that it bites. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { type ConfigOverrides, DEFAULT_VSN, resolveConfig } from "../../src/core/config.ts";
import type { Effect } from "../../src/core/effects.ts";
import type { Alive, Message } from "../../src/core/messages.ts";
import { MAX_INCARNATION, outbid } from "../../src/core/precedence.ts";
import { seededRng } from "../../src/core/rng.ts";
import { Swim } from "../../src/core/swim.ts";
import { memberlistCodec } from "../../src/wire/codec.ts";
import { encodeStreamBody } from "../../src/wire/stream.ts";

const FROM = { host: "127.0.0.9", port: 7946 };

function node(overrides: ConfigOverrides = {}) {
  let now = 1000;
  const swim = new Swim({
    identity: { name: "me", host: "127.0.0.1", port: 7946 },
    config: resolveConfig("lan", overrides),
    codec: memberlistCodec,
    now: () => now,
    rng: seededRng(5),
  });
  swim.start();
  const feed = (msgs: Message[], from = FROM): Effect[] =>
    swim.handlePacket(memberlistCodec.frame(msgs.map((m) => memberlistCodec.encode(m))), from);
  return { swim, feed, advance: (ms: number) => (now += ms) };
}

const alive = (name: string, incarnation = 1, extra: Partial<Alive> = {}): Alive => ({
  type: "alive",
  node: name,
  incarnation,
  addr: new Uint8Array([127, 0, 0, 2]),
  port: 7946,
  meta: null,
  vsn: DEFAULT_VSN,
  ...extra,
});

/** `count` alive rumours about invented members, in datagrams of 20. */
function flood(feed: (m: Message[]) => Effect[], count: number, prefix = "fake") {
  for (let i = 0; i < count; i += 20) {
    const batch: Message[] = [];
    for (let j = i; j < Math.min(count, i + 20); j++) batch.push(alive(`${prefix}-${j}`));
    feed(batch);
  }
}

describe("bounded state", () => {
  test("the table holds at most maxMembers; refusals are counted", () => {
    const { swim, feed } = node({ maxMembers: 50, newMembersBurst: 10_000 });
    flood(feed, 200);
    assert.equal(swim.members().length, 50);
    assert.equal(swim.stats.membersRefused["table-full"], 151);
  });

  test("one sender introduces at most a burst of new members, then its rate", () => {
    const { swim, feed, advance } = node({ newMembersBurst: 100, newMembersPerSecond: 10 });
    flood(feed, 300);
    assert.equal(swim.members().length, 101, "the burst, plus ourselves");
    assert.equal(swim.stats.membersRefused.rate, 200);
    advance(2000);
    flood(feed, 100, "later");
    assert.equal(swim.members().length, 121, "20 more after 2 s at 10/s");
    // Another sender has its own budget.
    flood((m) => feed(m, { host: "127.0.0.10", port: 7946 }), 50, "other");
    assert.equal(swim.members().length, 171);
  });

  test("names over 512 and metadata over 512 bytes are refused", () => {
    const { swim, feed } = node();
    feed([alive("x".repeat(513)), alive("big", 1, { meta: new Uint8Array(513) })]);
    assert.deepEqual(swim.members().map((m) => m.name), ["me"]);
    assert.equal(swim.stats.membersRefused.name, 1);
    assert.equal(swim.stats.membersRefused.meta, 1);
    feed([alive("ok", 1, { meta: new Uint8Array(512) })]);
    assert.ok(swim.member("ok"));
  });

  test("allowedCidrs refuses packets and members from outside", () => {
    const { swim, feed } = node({ allowedCidrs: ["127.0.0.0/24"] });
    feed([alive("outside", 1, { addr: new Uint8Array([127, 1, 0, 2]) })]);
    assert.equal(swim.member("outside"), undefined);
    assert.equal(swim.stats.membersRefused.address, 1);
    feed([alive("inside")], { host: "127.1.0.9", port: 7946 });
    assert.equal(swim.member("inside"), undefined, "a packet from outside is dropped whole");
    assert.equal(swim.stats.packetsRefused, 1);
    feed([alive("inside")]);
    assert.ok(swim.member("inside"));
    assert.throws(() => resolveConfig("lan", { allowedCidrs: ["127.0.0.0/33"] }), /allowedCidrs/);
  });
});

describe("incarnations", () => {
  test("a dead at the last incarnation is implausible and changes nothing", () => {
    const { swim, feed } = node();
    feed([alive("b", 1_800_000_000)]);
    feed([{ type: "dead", node: "b", incarnation: MAX_INCARNATION, from: "x" }]);
    assert.equal(swim.member("b")?.state, "alive");
    feed([{ type: "suspect", node: "me", incarnation: MAX_INCARNATION, from: "x" }]);
    assert.equal(swim.localMember().incarnation, 1, "no refutation to the end of the range");
    assert.equal(swim.stats.implausibleClaims, 2);
    // A plausible accusation is refuted as before.
    feed([{ type: "suspect", node: "me", incarnation: 1, from: "x" }]);
    assert.equal(swim.localMember().incarnation, 2);
  });

  test("our incarnation saturates instead of wrapping", () => {
    assert.equal(outbid(MAX_INCARNATION - 1), MAX_INCARNATION);
    assert.equal(outbid(MAX_INCARNATION), MAX_INCARNATION);
    assert.equal(outbid(5, MAX_INCARNATION), MAX_INCARNATION);
    assert.equal(outbid(5, 9), 10);
  });
});

test("an alive without Vsn is held with legacy versions, so our push/pull still encodes", () => {
  const { swim, feed } = node();
  feed([alive("old", 1, { vsn: new Uint8Array(0) })]);
  assert.ok(swim.member("old"));
  const { reply } = swim.handleStreamRequest(
    { type: "pushPull", join: false, states: [], userState: new Uint8Array(0) },
    FROM,
  );
  assert.ok(reply?.type === "pushPull");
  for (const s of reply.states) assert.equal(s.vsn.length, 6, s.name);
  assert.ok(encodeStreamBody(reply).length > 0);
});

test("no amplification: an ack to an address the ping merely claims carries no rumours", () => {
  const { feed } = node();
  for (let i = 0; i < 10; i++) {
    feed([alive(`m${i}`, 1, { addr: new Uint8Array([127, 0, 0, 20 + i]) })]);
  }
  const ping = (sourceAddr: Uint8Array): Message => ({
    type: "ping",
    seqNo: 5,
    node: "me",
    sourceAddr,
    sourcePort: 7946,
    sourceNode: "attacker",
  });
  const parts = (effects: Effect[]) =>
    effects.flatMap((e) => e.type === "send" ? [memberlistCodec.decodePacket(e.bytes).length] : []);
  // Answered where it came from: the rumours ride along.
  assert.ok(parts(feed([ping(new Uint8Array([127, 0, 0, 9]))]))[0] > 1);
  // Answered at a third party's address: the bare ack only.
  assert.deepEqual(parts(feed([ping(new Uint8Array([127, 0, 0, 77]))])), [1]);
});

test("an accusation may rise at most 256 above what we hold; an alive up to 2^20", () => {
  const { swim, feed } = node();
  feed([alive("b", 1000)]);
  feed([{ type: "suspect", node: "b", incarnation: 1000 + 257, from: "x" }]);
  assert.equal(swim.member("b")?.state, "alive", "a suspect 257 above is implausible");
  feed([{ type: "suspect", node: "b", incarnation: 1000 + 256, from: "x" }]);
  assert.equal(swim.member("b")?.state, "suspect");
  feed([alive("b", 1000 + 256 + 2 ** 20)]);
  assert.equal(swim.member("b")?.state, "alive", "a restart's time-based jump is accepted");
  // About ourselves: a death far above our incarnation is not refuted upwards.
  feed([{ type: "dead", node: "me", incarnation: 1 + 257, from: "x" }]);
  assert.equal(swim.localMember().incarnation, 1);
});
