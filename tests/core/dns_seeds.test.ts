/**
 * DNS seeds in the core: a named seed is resolved afresh (a `resolve` effect) for every join
 * attempt and re-announce, the answer (`Swim.handleResolved`) sends the announces to the fresh
 * addresses only, and stale answers are ignored. Plus `parseSeed` and the simulator's DNS.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AddressError, parseSeed } from "../../src/core/address.ts";
import { resolveConfig } from "../../src/core/config.ts";
import type { Effect, ResolvedAddress } from "../../src/core/effects.ts";
import { seededRng } from "../../src/core/rng.ts";
import { Swim } from "../../src/core/swim.ts";
import { Simulator } from "../../src/sim/simulator.ts";
import { memberlistCodec } from "../../src/wire/codec.ts";

function joiner(streams = false) {
  const swim = new Swim({
    identity: { name: "j", host: "10.0.9.1", port: 7946 },
    config: resolveConfig("lan"),
    codec: memberlistCodec,
    now: () => 1000,
    rng: seededRng(5),
    streams,
  });
  swim.start();
  return swim;
}

type Resolve = Extract<Effect, { type: "resolve" }>;
const resolves = (effects: Effect[]): Resolve[] =>
  effects.filter((e): e is Resolve => e.type === "resolve");
/** Where announces (pings to no name) went. */
const announced = (effects: Effect[]): string[] =>
  effects.flatMap((e) =>
    e.type === "send" &&
      memberlistCodec.decodePacket(e.bytes).some((m) => m.type === "ping" && m.node === "")
      ? [`${e.to.host}:${e.to.port}`]
      : []
  ).sort();
const joinTimer = (effects: Effect[]) => {
  const s = effects.find((e) => e.type === "schedule" && e.timer.kind === "join");
  assert.ok(s?.type === "schedule", "a join retry is scheduled");
  return s.timer;
};

describe("DNS seeds (core)", () => {
  test("parseSeed: literals stay literals, names are kept for the host to resolve, bad input throws", () => {
    assert.deepEqual(parseSeed("10.0.0.2:7000"), { host: "10.0.0.2", port: 7000 });
    assert.deepEqual(parseSeed("[::1]:7000"), { host: "::1", port: 7000 });
    assert.deepEqual(parseSeed("localhost:1"), { host: "127.0.0.1", port: 1 });
    assert.deepEqual(parseSeed("Seed.Shoal.Test:7947"), { name: "seed.shoal.test", port: 7947 });
    assert.deepEqual(parseSeed("consul"), { name: "consul", port: 7946 });
    assert.deepEqual(parseSeed("_shoal._udp.svc.local"), {
      name: "_shoal._udp.svc.local",
      port: 7946,
    });
    for (const bad of ["a..b:1", "-a:1", "seed:x", "seed:", "seed:70000", "999.1.1.1", "1.2.3"]) {
      assert.throws(() => parseSeed(bad), AddressError, bad);
    }
    assert.throws(() => parseSeed(`${"a".repeat(64)}.test`), AddressError, "label > 63");
  });

  test("each attempt resolves the name again and announces to the fresh addresses only", () => {
    const swim = joiner(true);
    const first = swim.join([{ name: "seed.test", port: 7946 }, { host: "10.0.0.5", port: 7946 }]);
    // The literal seed is announced to at once; the name is asked for.
    assert.deepEqual(announced(first), ["10.0.0.5:7946"]);
    const [ask] = resolves(first);
    assert.deepEqual(ask.names, ["seed.test"]);
    const answer = (addresses: ResolvedAddress[]) =>
      swim.handleResolved(ask.token, [{ name: "seed.test", addresses }]);
    const out = answer([{ host: "10.0.0.7" }, { host: "10.0.0.8" }, { host: "10.0.9.1" }]);
    // Ourselves (10.0.9.1) left out; a push/pull goes along with each announce.
    assert.deepEqual(announced(out), ["10.0.0.7:7946", "10.0.0.8:7946"]);
    assert.deepEqual(
      out.flatMap((e) => e.type === "pushPull" ? [e.to.host] : []).sort(),
      ["10.0.0.7", "10.0.0.8"],
    );
    // The same answer again is stale: the ask was used.
    assert.deepEqual(answer([{ host: "10.0.0.7" }]), []);

    // The retry asks again; the old addresses are not kept.
    const retry = swim.handleTimer(joinTimer(first));
    assert.deepEqual(announced(retry), ["10.0.0.5:7946"]);
    const [again] = resolves(retry);
    assert.ok(again && again.token !== ask.token, "a fresh token");
    const moved = swim.handleResolved(again.token, [
      { name: "seed.test", addresses: [{ host: "10.0.0.9" }, { host: "not-an-ip" }] },
    ]);
    assert.deepEqual(announced(moved), ["10.0.0.9:7946"], "only the new address, only IPs");
  });

  test("an unknown name is retried at every attempt; an answer to an older ask is ignored", () => {
    const swim = joiner();
    let effects = swim.join([{ name: "later.test", port: 7000 }]);
    const tokens: number[] = [];
    for (let attempt = 0; attempt < 4; attempt++) {
      const [ask] = resolves(effects);
      assert.ok(ask, `attempt ${attempt} asks for the name`);
      tokens.push(ask.token);
      const failed = swim.handleResolved(ask.token, [{ name: "later.test", error: "ENOTFOUND" }]);
      assert.deepEqual(announced(failed), []);
      assert.equal(swim.joined, false);
      effects = swim.handleTimer(joinTimer(effects));
    }
    const [latest] = resolves(effects);
    const ok = [{ name: "later.test", addresses: [{ host: "10.0.0.3" }] }];
    assert.deepEqual(swim.handleResolved(tokens[0], ok), [], "an old ask's answer is stale");
    assert.deepEqual(announced(swim.handleResolved(latest.token, ok)), ["10.0.0.3:7000"]);
  });

  test("SRV answers carry their own ports; a re-announce resolves the name too", () => {
    const swim = new Swim({
      identity: { name: "k", host: "10.0.9.2", port: 7946 },
      config: resolveConfig("lan"),
      codec: memberlistCodec,
      now: () => 1000,
      rng: seededRng(6),
    });
    const srv = "_shoal._udp.svc.test";
    const [ask] = resolves(swim.join([{ name: srv, port: 7946 }]));
    assert.deepEqual(announced(swim.handleResolved(ask.token, [])), [], "no answer: no target");
    const timer = swim.start().find((e) => e.type === "schedule" && e.timer.kind === "reannounce");
    assert.ok(timer?.type === "schedule");
    const [again] = resolves(swim.handleTimer(timer.timer));
    assert.ok(again, "the re-announce asks for the name");
    const out = swim.handleResolved(again.token, [{
      name: srv,
      addresses: [{ host: "10.0.0.4", port: 8001 }, { host: "10.0.0.4", port: 0 }, {
        host: "10.0.9.2",
        port: 7946,
      }],
    }]);
    assert.deepEqual(
      announced(out),
      ["10.0.0.4:8001"],
      "the record's port; port 0 and self dropped",
    );
  });

  test("the simulator resolves through its dns map; a node joins through a name whose address changes", () => {
    const dns = new Map<string, ResolvedAddress[]>();
    const sim = new Simulator({
      seed: 11,
      config: resolveConfig("lan"),
      codec: memberlistCodec,
      dns,
    });
    const [a] = sim.addNodes(1);
    // The name is unknown at first: b keeps retrying.
    const b = sim.addNode("b", { seeds: [{ name: "seed.sim", port: 7946 }] });
    sim.runFor(3000);
    assert.equal(b.swim.joined, false);
    assert.equal(b.swim.members().length, 1);
    dns.set("seed.sim", [{ host: a.address.host }]);
    assert.ok(sim.runUntil(() => sim.converged(), 60_000), "b joins once the name resolves");
    assert.ok(b.swim.joined);
  });
});
