/** Local health (protocol.md §10): a member that stalled itself accuses nobody for it. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_VSN, lanConfig } from "../../src/core/config.ts";
import type { Effect, Timer } from "../../src/core/effects.ts";
import { seededRng } from "../../src/core/rng.ts";
import { Swim } from "../../src/core/swim.ts";
import { memberlistCodec as codec } from "../../src/wire/codec.ts";

const FROM = { host: "127.9.0.2", port: 7946 };

/** A member that knows one peer, `b`; its first probe of `b` has just gone out. */
function probing() {
  let now = 1000;
  const swim = new Swim({
    identity: { name: "me", host: "127.9.0.1", port: 7946 },
    config: lanConfig,
    codec,
    now: () => now,
    rng: seededRng(5),
  });
  const scheduled = (effects: Effect[], kind: Timer["kind"]) => {
    const e = effects.find((x) => x.type === "schedule" && x.timer.kind === kind);
    assert.ok(e?.type === "schedule", `a ${kind} timer is scheduled`);
    return e;
  };
  const start = swim.start();
  const firstTick = scheduled(start, "probe");
  const gossip = scheduled(start, "gossip");
  const alive = codec.encode({
    type: "alive",
    node: "b",
    incarnation: 1,
    addr: new Uint8Array([127, 9, 0, 2]),
    port: 7946,
    meta: null,
    vsn: DEFAULT_VSN,
  });
  swim.handlePacket(codec.frame([alive]), FROM);
  now += firstTick.delay;
  const tick = swim.handleTimer(firstTick.timer);
  assert.ok(tick.some((e) => e.type === "send"), "b is probed");
  const next = scheduled(tick, "probe");
  const suspects = (effects: Effect[]) =>
    effects.filter((e) => e.type === "event" && e.event.type === "suspect").length;
  return {
    swim,
    next,
    gossip,
    suspects,
    advance: (ms: number) => (now += ms),
    startedAt: now,
    get now() {
      return now;
    },
  };
}

describe("a member that stalls itself", () => {
  test("an on-time probe tick with no ack accuses the target", () => {
    const p = probing();
    p.advance(p.next.delay);
    assert.equal(p.suspects(p.swim.handleTimer(p.next.timer)), 1);
    assert.equal(p.swim.stats.probesInconclusive, 0);
    assert.equal(p.swim.member("b")?.state, "suspect");
  });

  test("a probe tick later than the probe timeout accuses nobody", () => {
    const p = probing();
    p.advance(p.next.delay + lanConfig.probeTimeout + 1);
    const effects = p.swim.handleTimer(p.next.timer);
    assert.equal(p.suspects(effects), 0);
    assert.equal(p.swim.member("b")?.state, "alive");
    assert.equal(p.swim.stats.probesInconclusive, 1);
    assert.equal(p.swim.stats.probesFailed, 0);
    // Not counted against our health either: in an overloaded process that stretched every
    // member's probing and slowed a 1,000-member bootstrap (7–9 s → 13 s to converge).
    assert.equal(p.swim.healthScore, 0);
    // The next probe is judged as usual once our timers are on time again.
    const after = effects.find((e) => e.type === "schedule" && e.timer.kind === "probe");
    assert.ok(after?.type === "schedule");
    p.advance(after.delay);
    assert.equal(p.suspects(p.swim.handleTimer(after.timer)), 1);
  });

  test("a late gossip tick during the probe makes it inconclusive too", () => {
    const p = probing();
    // The gossip ticker was due before the probe went out; it fires a probe timeout late.
    p.advance(lanConfig.probeTimeout + 50);
    p.swim.handleTimer(p.gossip.timer);
    p.advance(p.next.delay - lanConfig.probeTimeout - 50);
    assert.equal(p.suspects(p.swim.handleTimer(p.next.timer)), 0);
    assert.equal(p.swim.stats.probesInconclusive, 1);
  });

  test("a lag within the probe timeout is not a stall", () => {
    const p = probing();
    p.advance(p.next.delay + lanConfig.probeTimeout);
    assert.equal(p.suspects(p.swim.handleTimer(p.next.timer)), 1);
    assert.equal(p.swim.stats.probesInconclusive, 0);
  });
});
