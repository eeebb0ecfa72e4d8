import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Codec } from "../../src/core/codec.ts";
import { lanConfig } from "../../src/core/config.ts";
import { Simulator } from "../../src/sim/simulator.ts";
import { memberlistCodec } from "../../src/wire/codec.ts";

function cluster(n: number, seed: number, faults = {}): Simulator {
  const sim = new Simulator({
    seed,
    config: lanConfig,
    codec: memberlistCodec,
    faults: { minDelay: 1, maxDelay: 10, ...faults },
  });
  sim.addNodes(n);
  return sim;
}

/** Names of members that `observer` believes dead. */
function deadSeenBy(sim: Simulator, observer: string): string[] {
  return sim.node(observer).swim.members().filter((m) => m.state === "dead").map((m) => m.name);
}

const LONG = { timeout: 120_000 };

describe("simulator: acceptance", LONG, () => {
  test("100 nodes converge, and a killed node is declared dead by every survivor", LONG, () => {
    const sim = cluster(100, 1);
    assert.ok(sim.runUntil(() => sim.converged(), 60_000), "100 nodes did not converge in 60 s");
    const convergedAt = sim.clock.now();
    assert.deepEqual(sim.events.filter((e) => e.type === "dead"), []);

    sim.kill("n42");
    const survivors = sim.running();
    const allSeeDead = () => survivors.every((n) => n.swim.member("n42")?.state === "dead");
    assert.ok(sim.runUntil(allSeeDead, 120_000), "not every survivor declared n42 dead");
    // Nobody else was declared dead along the way.
    const wrongDeaths = sim.events.filter((e) => e.type === "dead" && e.member !== "n42");
    assert.deepEqual(wrongDeaths, []);
    assert.ok(convergedAt > 0);
  });

  test("a node that leaves is seen as left, not dead", LONG, () => {
    const sim = cluster(20, 2);
    assert.ok(sim.runUntil(() => sim.converged(), 30_000));
    sim.leave("n7");
    sim.runFor(5_000);
    assert.deepEqual(sim.node("n7").settled, ["leave"]);
    sim.kill("n7"); // the process exits after leaving
    sim.runFor(20_000);
    for (const n of sim.running()) {
      assert.equal(
        n.swim.member("n7")?.state,
        "left",
        `${n.name} sees n7 as ${n.swim.member("n7")?.state}`,
      );
    }
    // Long after: still never declared dead (left entries are eventually forgotten).
    sim.runFor(60_000);
    assert.equal(sim.eventsAbout("n7", "dead").length, 0);
    const observers = sim.eventsAbout("n7", "leave").filter((e) => e.observer !== "n7");
    assert.equal(observers.length, 19);
  });

  test("a falsely suspected node refutes and stays alive", LONG, () => {
    const sim = cluster(30, 3);
    assert.ok(sim.runUntil(() => sim.converged(), 30_000));
    const victim = sim.node("n9");
    const before = victim.swim.localMember().incarnation;
    // n3 accuses n9 falsely: inject the rumour straight into n3's state machine.
    const accusation = memberlistCodec.encode({
      type: "suspect",
      incarnation: before,
      node: "n9",
      from: "n3",
    });
    sim.node("n3").swim.handlePacket(accusation, sim.node("n5").address);
    // The suspicion must be observed, then refuted, with no death.
    sim.runFor(60_000);
    assert.ok(sim.eventsAbout("n9", "suspect").length > 0, "nobody suspected n9");
    assert.ok(victim.swim.stats.refutations >= 1, "n9 did not refute");
    assert.ok(victim.swim.localMember().incarnation > before);
    assert.equal(sim.eventsAbout("n9", "dead").length, 0);
    for (const n of sim.running()) assert.equal(n.swim.member("n9")?.state, "alive");
  });

  test("20% random loss for 200 protocol periods declares no live node dead", LONG, () => {
    const sim = cluster(100, 4);
    assert.ok(sim.runUntil(() => sim.converged(), 60_000));
    sim.network.setFaults({ loss: 0.2 });
    sim.runFor(200 * lanConfig.probeInterval);
    const deaths = sim.events.filter((e) => e.type === "dead");
    assert.deepEqual(deaths, [], `false deaths: ${deaths.length}`);
    const suspicions = sim.events.filter((e) => e.type === "suspect").length;
    // The loss is real: probes do fail and get refuted.
    assert.ok(sim.nodes.some((n) => n.swim.stats.probesFailed > 0));
    assert.ok(suspicions >= 0);
    assert.ok(sim.network.counts.lost > 1000);
  });

  test("same seed, same event log; another seed, another log", LONG, () => {
    const run = (seed: number) => {
      const sim = cluster(25, seed, { loss: 0.05, duplicate: 0.02 });
      sim.runFor(20_000);
      sim.kill("n5");
      sim.leave("n6");
      sim.runFor(40_000);
      return JSON.stringify(sim.events);
    };
    const a = run(11), b = run(11), c = run(12);
    assert.ok(a.length > 1000);
    assert.equal(a, b);
    assert.notEqual(a, c);
  });

  test("metadata updates reach every member", LONG, () => {
    const sim = cluster(20, 5);
    assert.ok(sim.runUntil(() => sim.converged(), 30_000));
    sim.updateMeta("n4", new TextEncoder().encode("role=db"));
    sim.runFor(10_000);
    for (const n of sim.running()) {
      assert.equal(new TextDecoder().decode(n.swim.member("n4")!.meta), "role=db");
    }
    assert.equal(sim.eventsAbout("n4", "update").length, 20);
    assert.deepEqual(sim.node("n4").settled, ["meta"]);
    assert.deepEqual(deadSeenBy(sim, "n0"), []);
  });

  test("no datagram exceeds udpBufferSize, even with large metadata and a busy queue", LONG, () => {
    let largest = 0, count = 0;
    const codec: Codec = {
      ...memberlistCodec,
      packer: (budget, o) => {
        const packer = memberlistCodec.packer(budget, o);
        const finish = () => {
          const bytes = packer.finish();
          largest = Math.max(largest, bytes.length);
          count++;
          return bytes;
        };
        return {
          get count() {
            return packer.count;
          },
          get free() {
            return packer.free;
          },
          room: (reserve) => packer.room(reserve),
          add: (part) => packer.add(part),
          finish,
        };
      },
    };
    const sim = new Simulator({ seed: 9, config: lanConfig, codec, faults: { loss: 0.1 } });
    for (let i = 0; i < 60; i++) {
      sim.addNode(`node-with-a-longer-name-${i}`, { meta: new Uint8Array(400).fill(i) });
    }
    sim.runFor(30_000);
    for (let i = 0; i < 10; i++) sim.kill(`node-with-a-longer-name-${i}`);
    sim.runFor(30_000);
    assert.ok(count > 10_000);
    assert.ok(largest <= lanConfig.udpBufferSize, `largest datagram ${largest} B`);
    assert.ok(
      largest > lanConfig.udpBufferSize - 500,
      "packets were not filled (test is not biting)",
    );
  });
});
