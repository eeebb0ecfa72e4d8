/**
 * A node's stream side under hostile connections, over real TCP on 127.0.0.1: idle
 * connections neither block a push/pull nor outlive the header deadline, a slow-loris is cut
 * at the whole-exchange deadline, and exchanges beyond the cap are refused at once. Every
 * case is counted in the node's stream stats.
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createNode, type ShoalNode } from "../../mod.ts";
import type { PeerAddress } from "../../src/core/address.ts";
import type { StreamRequest } from "../../src/core/messages.ts";
import type { Swim } from "../../src/core/swim.ts";
import { StreamEndpoint } from "../../src/node/streams.ts";
import { detectStreamBinder, type StreamBinder, type StreamConn } from "../../src/transport/mod.ts";
import { encodeStreamMessage } from "../../src/wire/stream.ts";
import { streamRequest } from "../../src/wire/stream_exchange.ts";
import { FAST, waitFor } from "./helpers.ts";

const T = { timeout: 60_000 };
const HOST = "127.0.0.1";
const PUSH_PULL = {
  type: "pushPull" as const,
  join: false,
  states: [],
  userState: new Uint8Array(0),
};

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

/** The runtime's TCP binder, its listeners given `headerTimeoutMs`. */
async function withHeaderTimeout(headerTimeoutMs: number): Promise<StreamBinder> {
  const native = await detectStreamBinder();
  return {
    name: native.name,
    listen: (options) => native.listen({ ...options, headerTimeoutMs }),
    dial: (to, ms) => native.dial(to, ms),
  };
}

async function node(name: string, binder: StreamBinder, tcpTimeout: number): Promise<ShoalNode> {
  const n = await createNode({
    name,
    bind: `${HOST}:0`,
    config: { ...FAST, tcpTimeout, pushPullInterval: 0 },
    streams: binder,
  });
  cleanups.push(() => n.close());
  return n;
}

async function dialMany(binder: StreamBinder, to: PeerAddress, n: number): Promise<StreamConn[]> {
  const conns = await Promise.all(Array.from({ length: n }, () => binder.dial(to, 5000)));
  for (const c of conns) cleanups.push(() => c.close());
  return conns;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("a node's stream limits (real TCP)", () => {
  test(
    "300 idle connections: a push/pull still completes; they close at the header deadline",
    T,
    async () => {
      const binder = await withHeaderTimeout(1500);
      const a = await node("limits-a", binder, 3000);
      const idle = await dialMany(binder, a.address, 300);
      const started = performance.now();
      const reply = await streamRequest(binder, a.address, PUSH_PULL, { timeoutMs: 3000 });
      const took = performance.now() - started;
      assert.deepEqual(reply.states.map((s) => s.name), ["limits-a"]);
      assert.ok(took < 1500, `push/pull took ${took} ms: it waited for the idle ones`);
      // Every idle connection is closed: evicted for a newcomer or at the header deadline.
      const closed = () => a.stats().streams!.idleClosed + a.stats().streams!.idleEvicted;
      await waitFor(() => closed() === 300, 10_000, "all idle connections closed");
      const s = a.stats().streams!;
      assert.ok(s.idleClosed > 0, `idleClosed ${s.idleClosed}`);
      assert.ok(s.idleEvicted > 0, `idleEvicted ${s.idleEvicted}`);
      assert.equal(s.connectionsRejected, 0);
      assert.equal(s.pushPulls, 1);
      const reads = await Promise.all(idle.map((c) => c.read()));
      assert.ok(reads.every((r) => r === null));
    },
  );

  test("a slow-loris (one byte a second) is cut at the whole-exchange deadline", T, async () => {
    const binder = await withHeaderTimeout(500);
    const a = await node("limits-b", binder, 1500);
    const bytes = await encodeStreamMessage(PUSH_PULL, { side: "dialer" });
    const conn = await binder.dial(a.address, 2000);
    cleanups.push(() => conn.close());
    const started = performance.now();
    let cut = false;
    const ended = conn.read().then((chunk) => (cut = chunk === null));
    for (let i = 0; i < 10 && !cut; i++) {
      await conn.write(bytes.subarray(i, i + 1)).catch(() => {});
      await Promise.race([ended, sleep(1000)]);
    }
    const after = performance.now() - started;
    assert.equal(cut, true);
    assert.ok(after >= 1400 && after < 4000, `cut after ${after} ms`);
    await waitFor(() => a.stats().streams!.serveTimeouts === 1, 2000, "the timeout counted");
    const s = a.stats().streams!;
    assert.equal(s.idleClosed, 0); // it sent its first byte in time
    assert.equal(s.serveErrors, 1);
    assert.equal(s.inFlight, 0);
  });
});

describe("the endpoint's exchange cap (real TCP)", () => {
  /** An endpoint whose core answers pings and nothing else. */
  async function endpoint(maxExchanges: number): Promise<{ e: StreamEndpoint; to: PeerAddress }> {
    const swim = {
      handleStreamRequest: (req: StreamRequest) => ({
        reply: req.type === "ping" ? { type: "ack", seqNo: req.seqNo, payload: null } : null,
        effects: [],
      }),
    } as unknown as Swim;
    const binder = await detectStreamBinder();
    const e = new StreamEndpoint(binder, {
      swim,
      apply: () => {},
      timeoutMs: 5000,
      security: {},
      compress: false,
      maxExchanges,
    });
    // Bind a free port first, then the endpoint on it.
    const probe = await binder.listen({ host: HOST, port: 0, onConnection: () => {} });
    const port = probe.local.port;
    await probe.close();
    await e.listen(HOST, port);
    cleanups.push(() => e.close());
    return { e, to: { host: HOST, port } };
  }

  test(
    "exchanges beyond the cap are refused at once; idle connections hold no slot",
    T,
    async () => {
      const binder = await detectStreamBinder();
      const { e, to } = await endpoint(2);
      const ping = { type: "ping" as const, seqNo: 7, node: "" };
      await dialMany(binder, to, 20); // idle: no slot
      assert.equal((await streamRequest(binder, to, ping, { timeoutMs: 2000 })).seqNo, 7);
      const slow = await dialMany(binder, to, 2);
      for (const c of slow) await c.write(new Uint8Array([0x00])); // each takes a slot
      await waitFor(() => e.stats.inFlight === 2, 2000, "two exchanges in flight");
      const started = performance.now();
      await assert.rejects(streamRequest(binder, to, ping, { timeoutMs: 2000 }));
      assert.ok(performance.now() - started < 1000, "refused at once, not at a deadline");
      assert.equal(e.stats.busyRefused, 1);
      await slow[0].close();
      await waitFor(() => e.stats.inFlight === 1, 2000, "a slot freed");
      assert.equal((await streamRequest(binder, to, ping, { timeoutMs: 2000 })).seqNo, 7);
    },
  );
});
