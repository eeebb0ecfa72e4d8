/**
 * Core step throughput: how fast the pure state machine handles its inputs.
 * Run: deno bench -A bench/core.bench.ts
 */
import { DEFAULT_VSN, lanConfig } from "../src/core/config.ts";
import { BroadcastQueue } from "../src/core/broadcasts.ts";
import { seededRng } from "../src/core/rng.ts";
import { Swim } from "../src/core/swim.ts";
import { Simulator } from "../src/sim/simulator.ts";
import { memberlistCodec } from "../src/wire/codec.ts";

const FROM = { host: "10.0.0.9", port: 7946 };

function swimWith(members: number, backlog: number): Swim {
  const swim = new Swim({
    identity: { name: "me", host: "10.0.0.1", port: 7946 },
    config: lanConfig,
    codec: memberlistCodec,
    now: () => 0,
    rng: seededRng(1),
  });
  swim.start();
  for (let i = 0; i < members; i++) {
    swim.handlePacket(
      memberlistCodec.encode({
        type: "alive",
        node: `member-${i}`,
        incarnation: 1,
        addr: new Uint8Array([10, 1, i >> 8, i & 255]),
        port: 7946,
        meta: null,
        vsn: DEFAULT_VSN,
      }),
      FROM,
    );
  }
  // Keep a backlog of rumours queued (suspicions are re-queued each iteration below).
  for (let i = 0; i < backlog && i < members; i++) {
    swim.handlePacket(
      memberlistCodec.encode({ type: "suspect", node: `member-${i}`, incarnation: 1, from: "x" }),
      FROM,
    );
  }
  return swim;
}

const ping = memberlistCodec.encode({
  type: "ping",
  seqNo: 1,
  node: "me",
  sourceAddr: new Uint8Array([10, 0, 0, 9]),
  sourcePort: 7946,
  sourceNode: "x",
});

const idle = swimWith(100, 0);
Deno.bench("ping → ack (100 members, empty queue)", { group: "step" }, () => {
  idle.handlePacket(ping, FROM);
});

const big = swimWith(2000, 0);
Deno.bench("ping → ack (2000 members, empty queue)", { group: "step" }, () => {
  big.handlePacket(ping, FROM);
});

// Per-packet dissemination cost must not grow with the backlog: fill a 1400-byte packet from
// queues of 100 and 10,000 rumours (refilled each iteration so the backlog stays constant).
for (const backlog of [100, 10_000]) {
  const queue = new BroadcastQueue();
  const rumour = (i: number) =>
    memberlistCodec.encode({ type: "suspect", node: `member-${i}`, incarnation: 1, from: "x" });
  for (let i = 0; i < backlog; i++) queue.enqueue(`k${i}`, rumour(i));
  let next = 0;
  Deno.bench(`fill one packet from a backlog of ${backlog}`, { group: "queue" }, (b) => {
    for (let i = 0; i < 40; i++, next++) {
      queue.enqueue(`k${next % backlog}`, rumour(next % backlog));
    }
    b.start();
    queue.take(1396, 2, 126, 1_000_000);
    b.end();
  });
}

Deno.bench("simulator: 20 nodes × 10 s virtual", { group: "sim", n: 20 }, () => {
  const sim = new Simulator({ seed: 1, config: lanConfig, codec: memberlistCodec });
  sim.addNodes(20);
  sim.runFor(10_000);
});
