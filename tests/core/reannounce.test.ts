/** The re-announce and the first sync (protocol.md §12). */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { syncInterval } from "../../src/core/anti_entropy.ts";
import { DEFAULT_VSN, resolveConfig } from "../../src/core/config.ts";
import type { Effect, Timer } from "../../src/core/effects.ts";
import type { Message } from "../../src/core/messages.ts";
import { seededRng } from "../../src/core/rng.ts";
import { Swim } from "../../src/core/swim.ts";
import { Simulator } from "../../src/sim/simulator.ts";
import { memberlistCodec as codec } from "../../src/wire/codec.ts";

const FROM = { host: "127.9.1.2", port: 7946 };
const alive = (name: string, host: number): Message => ({
  type: "alive",
  node: name,
  incarnation: 1,
  addr: new Uint8Array([127, 9, 1, host]),
  port: 7946,
  meta: null,
  vsn: DEFAULT_VSN,
});

/** A member that knows `b` (alive) and `c` (dead); its re-announce timer's effects. */
function reannounce(pushPullInterval: number, quietFor = 0): Effect[] {
  let now = 1000;
  const swim = new Swim({
    identity: { name: "a", host: "127.9.1.1", port: 7946 },
    config: resolveConfig("lan", { pushPullInterval }),
    codec,
    now: () => now,
    rng: seededRng(9),
  });
  const timer = swim.start().find((e) => e.type === "schedule" && e.timer.kind === "reannounce");
  assert.ok(timer?.type === "schedule");
  swim.handlePacket(codec.frame([alive("b", 2), alive("c", 3)].map((m) => codec.encode(m))), FROM);
  swim.handlePacket(
    codec.frame([codec.encode({ type: "dead", node: "c", incarnation: 1, from: "b" })]),
    FROM,
  );
  assert.equal(swim.member("c")?.state, "dead");
  now += quietFor;
  return swim.handleTimer(timer.timer as Timer);
}

const hostsSentTo = (effects: Effect[]) =>
  effects.flatMap((e) => e.type === "send" ? [e.to.host] : []).sort();

describe("re-announce", () => {
  const quiet = 4 * resolveConfig("lan").reannounceInterval + 1;
  for (const pushPullInterval of [0, 30_000]) {
    test(`to the dead member and to a live one (pushPullInterval ${pushPullInterval})`, () => {
      assert.deepEqual(hostsSentTo(reannounce(pushPullInterval)), ["127.9.1.2", "127.9.1.3"]);
    });
  }

  test("without sync, a quiet table still pulls a live member's table", () => {
    assert.deepEqual(hostsSentTo(reannounce(0, quiet)), ["127.9.1.2", "127.9.1.3"]);
  });

  test("with sync, a table quiet for 4 intervals leaves the live member to the sync", () => {
    assert.deepEqual(hostsSentTo(reannounce(30_000, quiet)), ["127.9.1.3"]);
  });
});

describe("the first sync of a warm start", () => {
  test("is spread over the scaled interval, as every later one", () => {
    const cfg = resolveConfig("lan", { maxMembers: 2000 });
    const sim = new Simulator({ seed: 3, config: cfg, codec, streams: true });
    const n = 1000;
    sim.addConverged(n);
    const scaled = syncInterval(cfg.pushPullInterval, n);
    assert.ok(scaled >= 5 * cfg.pushPullInterval);
    // Over one unscaled interval about pushPullInterval / scaled of the members sync, not all.
    sim.runFor(cfg.pushPullInterval);
    const synced = sim.nodes.filter((x) => x.swim.stats.merges > 0).length;
    assert.ok(synced < n / 2, `${synced} of ${n} members merged a full state`);
    assert.ok(synced > 0, "some members synced");
  });
});
