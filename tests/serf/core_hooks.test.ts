/** The core's delegate hooks serf needs: the announced Vsn and push/pull user state. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_VSN, lanConfig } from "../../src/core/config.ts";
import type { Effect } from "../../src/core/effects.ts";
import type { NodeState, PushPull } from "../../src/core/messages.ts";
import { seededRng } from "../../src/core/rng.ts";
import { Swim } from "../../src/core/swim.ts";
import { memberlistCodec } from "../../src/wire/codec.ts";
import { SERF_VSN } from "../../src/serf/mod.ts";

const FROM = { host: "10.0.0.9", port: 7946 };

function swim(options: { vsn?: Uint8Array; localState?: (join: boolean) => Uint8Array } = {}) {
  return new Swim({
    identity: { name: "me", host: "10.0.0.1", port: 7946 },
    config: lanConfig,
    codec: memberlistCodec,
    now: () => 1000,
    rng: seededRng(3),
    streams: true,
    ...options,
  });
}

const peer = (vsn: Uint8Array): NodeState => ({
  name: "peer",
  addr: new Uint8Array([10, 0, 0, 9]),
  port: 7946,
  meta: null,
  incarnation: 1,
  state: 0,
  vsn,
});

const remoteStates = (effects: Effect[]) =>
  effects.flatMap((e) => e.type === "remoteState" ? [e] : []);

describe("core delegate hooks", () => {
  test("by default: memberlist's Vsn and empty user state; a peer's state is still reported", () => {
    const s = swim();
    const { reply, effects } = s.handleStreamRequest({
      type: "pushPull",
      join: true,
      states: [peer(DEFAULT_VSN)],
      userState: new Uint8Array([1, 2, 3]),
    }, FROM);
    const pp = reply as PushPull;
    assert.deepEqual([...pp.states.find((n) => n.name === "me")!.vsn], [...DEFAULT_VSN]);
    assert.equal(pp.userState.length, 0);
    assert.deepEqual(remoteStates(effects).map((e) => [...e.state]), [[1, 2, 3]]);
  });

  test("a delegate's Vsn and local state go out; a peer's state comes back once merged", () => {
    const joins: boolean[] = [];
    const s = swim({
      vsn: SERF_VSN,
      localState: (join) => (joins.push(join), new Uint8Array([7])),
    });
    const { reply, effects } = s.handleStreamRequest({
      type: "pushPull",
      join: true,
      states: [peer(SERF_VSN)],
      userState: new Uint8Array([9]),
    }, FROM);
    const pp = reply as PushPull;
    assert.deepEqual([...pp.states.find((n) => n.name === "me")!.vsn], [...SERF_VSN]);
    assert.deepEqual([...pp.userState], [7]);
    assert.deepEqual(joins, [true]);
    assert.deepEqual(remoteStates(effects), [{
      type: "remoteState",
      state: new Uint8Array([9]),
      join: true,
    }]);
    const reply2 = s.handlePushPullReply({
      type: "pushPull",
      join: false,
      states: [peer(SERF_VSN)],
      userState: new Uint8Array([5]),
    });
    assert.equal(remoteStates(reply2).length, 1);
  });

  test("a refused merge (delegate versions clash) hands over no user state", () => {
    const s = swim({ vsn: SERF_VSN });
    const { effects } = s.handleStreamRequest({
      type: "pushPull",
      join: false,
      states: [peer(DEFAULT_VSN)], // delegate 0: outside serf's [2, 5]
      userState: new Uint8Array([9]),
    }, FROM);
    assert.equal(remoteStates(effects).length, 0);
    assert.equal(s.stats.mergesRejected, 1);
  });

  test("a throwing provider sends no user state; a bad Vsn is refused up front", () => {
    const s = swim({
      localState: () => {
        throw new Error("boom");
      },
    });
    const { reply } = s.handleStreamRequest({
      type: "pushPull",
      join: false,
      states: [],
      userState: new Uint8Array(0),
    }, FROM);
    assert.equal((reply as PushPull).userState.length, 0);
    assert.throws(() => swim({ vsn: new Uint8Array([1, 5, 2]) }), RangeError);
    assert.throws(() => swim({ vsn: new Uint8Array([1, 5, 2, 5, 2, 2]) }), RangeError);
  });
});
