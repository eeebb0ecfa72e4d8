/**
 * Joining: a seed acks an announce only when its table went out with the ack, a joiner keeps
 * announcing until it has a full state, greetings are budgeted, and a mass join converges
 * with periodic anti-entropy off.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { resolveConfig } from "../../src/core/config.ts";
import type { Effect } from "../../src/core/effects.ts";
import type { Message, Ping } from "../../src/core/messages.ts";
import { seededRng } from "../../src/core/rng.ts";
import { Swim } from "../../src/core/swim.ts";
import { Simulator } from "../../src/sim/simulator.ts";
import { createMemberlistCodec, memberlistCodec } from "../../src/wire/codec.ts";

const LONG = { timeout: 120_000 };

function swimAt(name: string, host: string) {
  let now = 1000;
  const swim = new Swim({
    identity: { name, host, port: 7946 },
    config: resolveConfig("lan"),
    codec: memberlistCodec,
    now: () => now,
    rng: seededRng(3),
  });
  swim.start();
  return { swim, advance: (ms: number) => (now += ms) };
}

const sent = (effects: Effect[]): { to: string; msgs: Message[] }[] =>
  effects.flatMap((e) =>
    e.type === "send" ? [{ to: e.to.host, msgs: memberlistCodec.decodePacket(e.bytes) }] : []
  );

function announce(from: number): Uint8Array {
  const ping: Ping = {
    type: "ping",
    seqNo: 77,
    node: "",
    sourceAddr: new Uint8Array([10, 0, 1, from]),
    sourcePort: 7946,
    sourceNode: `j${from}`,
  };
  return memberlistCodec.frame([memberlistCodec.encode(ping)]);
}

describe("joining", () => {
  test("a seed answers an announce from its own address with its table and an ack, within its feed limit", () => {
    const { swim } = swimAt("seed", "10.0.0.1");
    const acked: boolean[] = [];
    for (let i = 1; i <= 20; i++) {
      const out = sent(swim.handlePacket(announce(i), { host: `10.0.1.${i}`, port: 7946 }));
      const ack = out.some((p) => p.msgs.some((m) => m.type === "ack" && m.seqNo === 77));
      const fed = out.some((p) => p.msgs.some((m) => m.type === "alive" && m.node === "seed"));
      assert.equal(ack, fed, `announce ${i}: an ack must come with the table and only with it`);
      acked.push(ack);
    }
    assert.equal(acked.filter(Boolean).length, 16, "16 feeds per second");
    assert.deepEqual(acked.slice(16), [false, false, false, false]);
    assert.equal(swim.stats.feedsDropped, 4);
    assert.equal(swim.stats.challenges, 0);
  });

  test("an announce asking to be answered elsewhere is challenged there; the proof brings the table and the ack", () => {
    const { swim } = swimAt("seed", "10.0.0.1");
    const acked: boolean[] = [];
    for (let i = 1; i <= 20; i++) {
      const from = { host: `10.0.4.${i}`, port: 7946 }; // SourceAddr says 10.0.1.i
      const first = sent(swim.handlePacket(announce(i), from));
      // One bare ping to the claimed address: no table, no ack yet.
      assert.equal(first.length, 1, `announce ${i}: one challenge`);
      assert.equal(first[0].to, `10.0.1.${i}`);
      const [challenge] = first[0].msgs;
      assert.ok(challenge.type === "ping" && challenge.node === `j${i}`);
      const ack = memberlistCodec.frame([
        memberlistCodec.encode({ type: "ack", seqNo: challenge.seqNo, payload: null }),
      ]);
      const out = sent(swim.handlePacket(ack, { host: `10.0.1.${i}`, port: 7946 }));
      const acking = out.some((p) => p.msgs.some((m) => m.type === "ack" && m.seqNo === 77));
      const fed = out.some((p) => p.msgs.some((m) => m.type === "alive" && m.node === "seed"));
      assert.equal(acking, fed, `announce ${i}: an ack must come with the table and only with it`);
      acked.push(acking);
    }
    assert.equal(acked.filter(Boolean).length, 16, "16 feeds per second");
    assert.deepEqual(acked.slice(16), [false, false, false, false]);
    assert.equal(swim.stats.feedsDropped, 4);
    assert.equal(swim.stats.challenges, 20);
  });

  test("an announce with a forged source gets one small ping (under 2× the request), never the table", () => {
    const { swim } = swimAt("seed", "10.0.0.1");
    for (let i = 0; i < 40; i++) {
      swim.handlePacket(
        memberlistCodec.frame([memberlistCodec.encode({
          type: "alive",
          node: `fake${i}`,
          incarnation: 1,
          addr: new Uint8Array([10, 0, 2, i]),
          port: 7946,
          meta: new Uint8Array(200),
          vsn: new Uint8Array([1, 5, 2, 0, 0, 0]),
        })]),
        { host: "10.0.2.250", port: 7946 },
      );
    }
    const request = announce(9); // SourceAddr 10.0.1.9, the victim; sent from 10.0.3.3
    const out = swim.handlePacket(request, { host: "10.0.3.3", port: 7946 });
    const bytes = out.flatMap((e) => e.type === "send" ? [e.bytes.length] : []);
    assert.equal(bytes.length, 1, "one datagram to the victim");
    assert.ok(
      bytes[0] < 2 * request.length,
      `${bytes[0]} B answer to a ${request.length} B request`,
    );
    // An ack for a challenge nobody sent proves nothing.
    const guess = memberlistCodec.frame([
      memberlistCodec.encode({ type: "ack", seqNo: 1, payload: null }),
    ]);
    assert.deepEqual(sent(swim.handlePacket(guess, { host: "10.0.3.3", port: 7946 })), []);
  });

  test("a joiner retries until an ack to its announce (a feed) arrives, then stops", () => {
    const { swim, advance } = swimAt("j", "10.0.0.5");
    const seed = { host: "10.0.0.1", port: 7946 };
    const first = sent(swim.join([seed]));
    assert.equal(swim.joined, false);
    const seq = first.flatMap((p) => p.msgs).find((m) => m.type === "ping")!;
    assert.ok(seq && seq.type === "ping" && seq.node === "");
    // A member greets us (we now know a peer), but no seed acked: keep announcing.
    const retry = (): Effect[] => {
      advance(60_000);
      return swim.handleTimer({ kind: "join", token: 1, attempt: 1 });
    };
    const again = sent(retry());
    assert.ok(again.some((p) => p.to === seed.host), "announced to the seed again");
    assert.equal(swim.stats.joinRetries, 1);
    // The seed's ack of our latest announce settles the join: no more announces.
    const latest = again.flatMap((p) => p.msgs).find((m) => m.type === "ping");
    assert.ok(latest && latest.type === "ping");
    swim.handlePacket(
      memberlistCodec.frame([memberlistCodec.encode({
        type: "ack",
        seqNo: latest.seqNo,
        payload: null,
      })]),
      seed,
    );
    assert.equal(swim.joined, true);
    assert.deepEqual(sent(retry()), []);
  });

  test(
    "mass join, periodic anti-entropy off: every pair meets, greetings stay within budget",
    LONG,
    () => {
      const config = resolveConfig("lan", {
        probeInterval: 200,
        probeTimeout: 100,
        gossipInterval: 50,
        pushPullInterval: 0,
        reannounceInterval: 0,
      });
      for (const seed of [1, 2]) {
        const sim = new Simulator({
          seed,
          config,
          codec: createMemberlistCodec({ compress: true }),
        });
        const n = 60;
        for (let i = 0; i < n; i++) {
          sim.addNode(`n${i}`);
          sim.runFor(5);
        }
        const start = sim.clock.now();
        assert.ok(sim.runUntil(() => sim.converged(), 20_000, 10), `seed ${seed}: no convergence`);
        const elapsed = sim.clock.now() - start + n * 5;
        const feedsDropped = sim.nodes.reduce((s, x) => s + x.swim.stats.feedsDropped, 0);
        assert.ok(feedsDropped > 0, "the seed's feed limit was not exercised");
        // Convergence can come through gossip first; the retries end within a few seconds.
        sim.runFor(5_000);
        for (const x of sim.nodes) {
          assert.equal(x.swim.joined, true, `${x.name} never got a full state`);
          // 3 per 50 ms, in bursts of at most 12.
          const budget = 12 + 3 * Math.ceil(elapsed / 50);
          assert.ok(x.swim.stats.greetings <= budget, `${x.name}: ${x.swim.stats.greetings}`);
        }
      }
    },
  );
});
