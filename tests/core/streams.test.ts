/** The core's stream-side behaviour: push/pull merge, the fallback probe, user messages. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_VSN, lanConfig } from "../../src/core/config.ts";
import type { Effect } from "../../src/core/effects.ts";
import type { Message, NodeState, StreamRequest } from "../../src/core/messages.ts";
import { seededRng } from "../../src/core/rng.ts";
import { Swim } from "../../src/core/swim.ts";
import { Simulator } from "../../src/sim/simulator.ts";
import { memberlistCodec } from "../../src/wire/codec.ts";

const FROM = { host: "10.0.0.9", port: 7946 };

function node(streams = true) {
  let now = 1000;
  const swim = new Swim({
    identity: { name: "me", host: "10.0.0.1", port: 7946 },
    config: lanConfig,
    codec: memberlistCodec,
    now: () => now,
    rng: seededRng(3),
    streams,
  });
  const feed = (...msgs: Message[]): Effect[] =>
    swim.handlePacket(memberlistCodec.frame(msgs.map((m) => memberlistCodec.encode(m))), FROM);
  return { swim, feed, advance: (ms: number) => (now += ms) };
}

const NO_USER_STATE = new Uint8Array(0);

/** A push/pull request carrying `states`, as a dialer sends it. */
const pushPull = (states: NodeState[], join = false): StreamRequest => ({
  type: "pushPull",
  join,
  states,
  userState: NO_USER_STATE,
});

/** Merge `states` as the acceptor of a push/pull; the effects. */
const merge = (swim: Swim, states: NodeState[]): Effect[] =>
  swim.handleStreamRequest(pushPull(states), FROM).effects;

/** The state `swim` replies with to a push/pull that carries nothing. */
function localState(swim: Swim): readonly NodeState[] {
  const { reply } = swim.handleStreamRequest(pushPull([]), FROM);
  assert.ok(reply?.type === "pushPull");
  return reply.states;
}

const entry = (name: string, state: 0 | 1 | 2 | 3, incarnation = 1, host = 2): NodeState => ({
  name,
  addr: new Uint8Array([10, 0, 0, host]),
  port: 7946,
  meta: null,
  incarnation,
  state,
  vsn: DEFAULT_VSN,
});

describe("push/pull", () => {
  test("local state lists every member, self included, with memberlist state codes", () => {
    const { swim } = node();
    merge(swim, [entry("b", 0), entry("c", 0, 1, 3), entry("x", 3, 1, 5)]);
    merge(swim, [entry("c", 3, 2, 3)]);
    assert.equal(swim.member("x"), undefined, "a left entry for an unknown name is ignored");
    const states = Object.fromEntries(localState(swim).map((s) => [s.name, s.state]));
    assert.deepEqual(states, { me: 0, b: 0, c: 3 });
  });

  test("merge: alive joins, left leaves, dead only makes suspect (protocol.md §7.6)", () => {
    const { swim } = node();
    const out = merge(swim, [entry("b", 0), entry("c", 0, 1, 3), entry("d", 0, 1, 4)]);
    assert.equal(out.filter((e) => e.type === "event" && e.event.type === "join").length, 3);
    merge(swim, [entry("b", 2), entry("c", 3), entry("d", 1)]);
    assert.equal(swim.member("b")?.state, "suspect");
    assert.equal(swim.member("c")?.state, "left");
    assert.equal(swim.member("d")?.state, "suspect");
    assert.equal(swim.stats.merges, 2);
  });

  test("merge refuses incompatible protocol versions whole", () => {
    const { swim } = node();
    const bad = { ...entry("b", 0), vsn: new Uint8Array([1, 5, 9, 0, 0, 0]) };
    merge(swim, [bad, entry("c", 0, 1, 3)]);
    assert.equal(swim.member("b"), undefined);
    assert.equal(swim.member("c"), undefined);
    assert.equal(swim.stats.mergesRejected, 1);
  });

  test("a stale entry about ourselves is refuted", () => {
    const { swim } = node();
    merge(swim, [{ ...entry("me", 2, 5), addr: new Uint8Array([10, 0, 0, 1]) }]);
    assert.equal(swim.localMember().incarnation, 6);
  });

  test("join asks each seed for a push/pull", () => {
    const { swim } = node();
    const out = swim.join([{ host: "10.0.0.5", port: 7946 }]);
    const request = out.find((e) => e.type === "pushPull");
    assert.ok(request?.type === "pushPull" && request.request.join);
    assert.equal(request.to.host, "10.0.0.5");
    // The request carries our state as it was when the effect was emitted.
    assert.deepEqual(request.request.states.map((s) => s.name), ["me"]);
    const without = node(false).swim.join([{ host: "10.0.0.5", port: 7946 }]);
    assert.ok(!without.some((e) => e.type === "pushPull"));
  });
});

describe("stream requests", () => {
  test("a push/pull is answered with our state from before the merge, then merged", () => {
    const { swim } = node();
    merge(swim, [entry("b", 0)]);
    const { reply, effects } = swim.handleStreamRequest(
      pushPull([entry("c", 0, 1, 3)], true),
      FROM,
    );
    assert.ok(reply?.type === "pushPull");
    assert.equal(reply.join, true, "the reply echoes Join");
    assert.deepEqual(reply.states.map((s) => s.name).sort(), ["b", "me"]);
    assert.ok(effects.some((e) => e.type === "event" && e.event.member.name === "c"));
    assert.equal(swim.member("c")?.state, "alive");
  });

  test("the reply to a push/pull effect is merged", () => {
    const { swim } = node();
    const out = swim.handlePushPullReply({
      type: "pushPull",
      join: true,
      states: [entry("b", 0)],
      userState: NO_USER_STATE,
    });
    assert.ok(out.some((e) => e.type === "event" && e.event.type === "join"));
    assert.equal(swim.joined, true);
  });

  test("a stream ping for us is acked; one for another name is not (and counted)", () => {
    const { swim } = node();
    const ping = (node: string) => ({ type: "ping", seqNo: 7, node } as const);
    assert.deepEqual(swim.handleStreamRequest(ping("me"), FROM).reply, {
      type: "ack",
      seqNo: 7,
      payload: null,
    });
    assert.equal(swim.handleStreamRequest(ping(""), FROM).reply?.type, "ack");
    assert.equal(swim.handleStreamRequest(ping("other"), FROM).reply, null);
    assert.equal(swim.stats.unexpectedPings, 1);
  });

  test("a stream user message is delivered, with no reply", () => {
    const { swim } = node();
    const payload = new Uint8Array([1, 2]);
    const { reply, effects } = swim.handleStreamRequest({ type: "user", payload }, FROM);
    assert.equal(reply, null);
    assert.deepEqual(effects, [{ type: "user", payload, from: FROM }]);
  });
});

describe("fallback probe", () => {
  test("a probe answered only over a stream raises no suspicion", () => {
    const { swim, feed } = node();
    swim.start();
    feed({
      type: "alive",
      node: "b",
      incarnation: 1,
      addr: new Uint8Array([10, 0, 0, 2]),
      port: 7946,
      meta: null,
      vsn: DEFAULT_VSN,
    });
    const tick = swim.handleTimer({ kind: "probe", token: 1 });
    const timeout = tick.find((e) => e.type === "schedule" && e.timer.kind === "probeTimeout");
    assert.ok(timeout && timeout.type === "schedule");
    const indirect = swim.handleTimer(timeout.timer);
    const streamPing = indirect.find((e) => e.type === "streamPing");
    assert.ok(streamPing && streamPing.type === "streamPing", "a stream ping is requested");
    assert.equal(streamPing.ping.node, "b");
    swim.handleStreamPingResult(streamPing.ping.seqNo, true);
    const next = swim.handleTimer({ kind: "probe", token: 1 });
    assert.ok(!next.some((e) => e.type === "event" && e.event.type === "suspect"));
    assert.equal(swim.stats.fallbackAcks, 1);
    assert.equal(swim.member("b")?.state, "alive");
  });

  test("without the stream ack the probe ends in suspicion", () => {
    const { swim, feed } = node();
    swim.start();
    feed({
      type: "alive",
      node: "b",
      incarnation: 1,
      addr: new Uint8Array([10, 0, 0, 2]),
      port: 7946,
      meta: null,
      vsn: DEFAULT_VSN,
    });
    swim.handleTimer({ kind: "probe", token: 1 });
    const next = swim.handleTimer({ kind: "probe", token: 1 });
    assert.ok(next.some((e) => e.type === "event" && e.event.type === "suspect"));
  });
});

describe("user messages", () => {
  test("best-effort messages arrive as user effects; oversize ones are refused", () => {
    const { swim } = node();
    const sent = swim.sendUser({ host: "10.0.0.2", port: 7946 }, new TextEncoder().encode("hi"));
    const send = sent.find((e) => e.type === "send");
    assert.ok(send && send.type === "send");
    const receiver = node();
    const got = receiver.swim.handlePacket(send.bytes, FROM);
    const user = got.find((e) => e.type === "user");
    assert.ok(user && user.type === "user");
    assert.equal(new TextDecoder().decode(user.payload), "hi");
    assert.throws(() => swim.sendUser(FROM, new Uint8Array(5000)), RangeError);
    assert.throws(() => node(false).swim.sendUser(FROM, new Uint8Array(1), true), /stream/);
  });

  test("broadcasts reach a small cluster and are not starved by membership gossip", () => {
    const sim = new Simulator({
      seed: 5,
      config: lanConfig,
      codec: memberlistCodec,
      streams: true,
    });
    sim.addNodes(5);
    sim.runUntil(() => sim.converged(), 10_000);
    const a = sim.node("n1");
    // Flood membership gossip: 100 metadata updates queued right before the broadcast.
    for (let i = 0; i < 100; i++) sim.updateMeta(`n${i % 5}`, new Uint8Array([i]));
    const payload = new TextEncoder().encode("deploy v2");
    const effects = a.swim.broadcast(payload);
    assert.deepEqual(effects, []);
    sim.runFor(5_000);
    const got = sim.nodes.filter((n) =>
      n.userMessages.some((m) => new TextDecoder().decode(m) === "deploy v2")
    );
    assert.ok(got.length >= 3, `only ${got.length} of 4 others got the broadcast`);
  });

  test("with streams, the simulator's cluster converges through push/pull", () => {
    const sim = new Simulator({
      seed: 8,
      config: lanConfig,
      codec: memberlistCodec,
      streams: true,
    });
    sim.addNodes(30);
    assert.ok(sim.runUntil(() => sim.converged(), 30_000));
    assert.ok(sim.nodes.some((n) => n.swim.stats.merges > 0));
  });
});
