import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { FlapDamping } from "../../src/core/damping.ts";
import { ConfigError, FLAP_DAMPING, resolveConfig } from "../../src/core/config.ts";
import { badLink } from "../../src/sim/experiments.ts";
import { parseTune } from "../../src/cli/tune.ts";
import { UsageError } from "../../src/cli/usage.ts";
import { Simulator } from "../../src/sim/simulator.ts";
import { memberlistCodec as codec } from "../../src/wire/codec.ts";

// protocol.md §21: flap damping of membership events.
const cfg = { halfLife: 90_000, suppress: 3, reuse: 1, ceiling: 6 };

describe("flap damping: the penalty rule", () => {
  test("the suspicion that reaches `suppress` is told and starts the hold", () => {
    const d = new FlapDamping(cfg);
    const told = ["suspect", "alive", "suspect", "alive", "suspect", "alive", "suspect"]
      .map((type) => d.admit(type as "suspect" | "alive", "x", 0));
    assert.deepEqual(told, ["emit", "emit", "emit", "emit", "emit", "hold", "hold"]);
    assert.equal(d.isHeld("x"), true);
    assert.equal(d.isHeld("y"), false);
    assert.equal(d.admit("suspect", "y", 0), "emit");
  });

  test("suspicions far apart decay and never hold", () => {
    const d = new FlapDamping(cfg);
    for (let i = 0; i < 20; i++) {
      assert.equal(d.admit("suspect", "x", i * 600_000), "emit");
      assert.equal(d.admit("alive", "x", i * 600_000 + 1000), "emit");
    }
    assert.equal(d.isHeld("x"), false);
  });

  test("the hold ends when the penalty decays below `reuse`, with one alive", () => {
    const d = new FlapDamping(cfg);
    for (let i = 0; i < 3; i++) d.admit("suspect", "x", 0);
    const at = d.releaseAt("x")!;
    assert.equal(at, Math.ceil(90_000 * Math.log2(3)) + 1);
    assert.equal(d.release("x", at - 2, true), undefined);
    assert.equal(d.isHeld("x"), true);
    assert.equal(d.release("x", at, true), "alive");
    assert.equal(d.isHeld("x"), false);
    assert.equal(d.releaseAt("x"), null);
  });

  test("the penalty stops at `ceiling`, bounding how long a hold outlasts the flapping", () => {
    const d = new FlapDamping(cfg);
    for (let i = 0; i < 1000; i++) d.admit("suspect", "x", 0);
    assert.equal(d.penalty("x", 0), 6);
    assert.equal(d.releaseAt("x"), Math.ceil(90_000 * Math.log2(6)) + 1);
  });

  test("a held member's first death is told at once; the return after it ends as a join", () => {
    const d = new FlapDamping(cfg);
    for (let i = 0; i < 3; i++) d.admit("suspect", "x", 0);
    assert.equal(d.admit("dead", "x", 10), "emit");
    assert.equal(d.admit("join", "x", 20), "hold");
    assert.equal(d.admit("suspect", "x", 30), "hold");
    assert.equal(d.admit("dead", "x", 40), "hold");
    assert.equal(d.admit("update", "x", 50), "hold");
    const at = d.releaseAt("x")!;
    assert.equal(d.release("x", at, true), "join");
  });

  test("a member still dead when the hold ends is told nothing more", () => {
    const d = new FlapDamping(cfg);
    for (let i = 0; i < 3; i++) d.admit("suspect", "x", 0);
    d.admit("dead", "x", 10);
    assert.equal(d.release("x", d.releaseAt("x")!, false), null);
  });

  test("updates of a member held as suspect pass; leaves always pass and end the hold", () => {
    const d = new FlapDamping(cfg);
    for (let i = 0; i < 3; i++) d.admit("suspect", "x", 0);
    assert.equal(d.admit("update", "x", 1), "emit");
    assert.equal(d.admit("leave", "x", 2), "emit");
    assert.equal(d.isHeld("x"), false);
  });

  test("settings are validated", () => {
    assert.deepEqual(resolveConfig("lan").flapDamping, FLAP_DAMPING);
    assert.equal(resolveConfig("lan", { flapDamping: null }).flapDamping, null);
    for (
      const bad of [
        { ...cfg, halfLife: 0 },
        { ...cfg, reuse: 3 },
        { ...cfg, ceiling: 2 },
        { ...cfg, suppress: Number.NaN },
      ]
    ) {
      assert.throws(() => resolveConfig("lan", { flapDamping: bad }), ConfigError);
    }
  });

  test("a partial setting keeps the rest of the default; the agent's --tune reaches it", () => {
    const part = resolveConfig("wan", { flapDamping: { suppress: 2, halfLife: 180_000 } });
    assert.deepEqual(part.flapDamping, { ...FLAP_DAMPING, suppress: 2, halfLife: 180_000 });
    assert.throws(() => resolveConfig("lan", { flapDamping: { reuse: 4 } }), ConfigError);
    const tuned = parseTune(["flapDamping.ceiling=12", "probeInterval=500"]);
    assert.deepEqual(tuned, { flapDamping: { ceiling: 12 }, probeInterval: 500 });
    assert.equal(resolveConfig("lan", tuned).flapDamping?.ceiling, 12);
    assert.deepEqual(parseTune(["flapDamping=off"]), { flapDamping: null });
    assert.equal(resolveConfig("lan", parseTune(["flapDamping=off"])).flapDamping, null);
    assert.throws(() => parseTune(["flapDamping=on"]), UsageError);
  });
});

describe("flap damping in the simulator: a member behind a bad link", () => {
  test("80 % ingress loss: at most 10 events per observer in 10 minutes, none lost", () => {
    for (const seed of [1, 2, 3]) {
      const raw = badLink({ codec, seed, config: { flapDamping: null } });
      const damped = badLink({ codec, seed });
      assert.ok(
        raw.eventsPerObserver.mean > 100,
        `seed ${seed}: undamped ${raw.eventsPerObserver.mean}`,
      );
      assert.ok(
        damped.eventsPerObserver.max <= 10,
        `seed ${seed}: ${damped.eventsPerObserver.max}`,
      );
      assert.equal(damped.falseDead, 0);
      // The protocol is untouched: the same kill is detected at the same moment.
      assert.equal(damped.detectionMs, raw.detectionMs);
      assert.ok(damped.detectionMs < 15_000, `seed ${seed}: detection ${damped.detectionMs}`);
      // Told back within the hold's bound once the link is repaired: 90 s × log2(6) ≈ 233 s.
      assert.ok(damped.toldBackMs <= 240_000, `seed ${seed}: back after ${damped.toldBackMs}`);
      assert.ok(damped.toldBackMs > 0);
    }
  });

  test("a held member that crashes is reported dead when it would be undamped", () => {
    const deadEvents = (flapDamping: typeof FLAP_DAMPING | null) => {
      const sim = new Simulator({
        seed: 7,
        codec,
        streams: true,
        config: resolveConfig("lan", { flapDamping }),
        faults: { minDelay: 1, maxDelay: 5 },
      });
      sim.addNodes(12);
      sim.runUntil(() => sim.converged(), 30_000);
      sim.network.setReceiveLoss(sim.node("n11").address.host, 0.8);
      sim.runFor(120_000);
      const held = sim.nodes.filter((x) => x.swim.stats.eventsHeld > 0).length;
      sim.kill("n11");
      sim.runFor(60_000);
      const deaths = sim.events.filter((e) => e.member === "n11" && e.type === "dead")
        .map((e) => `${e.observer}@${e.at}`);
      return { held, deaths };
    };
    const damped = deadEvents(FLAP_DAMPING), raw = deadEvents(null);
    assert.ok(damped.held >= 10, `members holding n11: ${damped.held}`);
    assert.equal(raw.held, 0);
    assert.ok(raw.deaths.length >= 11);
    assert.deepEqual(damped.deaths, raw.deaths);
  });
});
