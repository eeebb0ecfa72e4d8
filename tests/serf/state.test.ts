/** Serf's protocol state without I/O: clocks, intents, events, queries, push/pull, bounds. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  decodeSerfMessage,
  encodeNodeFilter,
  encodeSerfMessage,
  encodeTagFilter,
  LamportClock,
  matchTag,
  type MemberInfo,
  QUERY_FLAG_ACK,
  QUERY_FLAG_NO_BROADCAST,
  type QueryMessage,
  type SerfEffect,
  SerfState,
  UserEventCoalescer,
} from "../../src/serf/mod.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const SELF_IP = new Uint8Array([127, 0, 0, 1]);
const ASKER_IP = new Uint8Array([127, 0, 0, 2]);

function state(tags: Record<string, string> = { role: "cache" }, eventBuffer = 512) {
  let now = 0;
  let seed = 1;
  const s = new SerfState({
    name: "me",
    tags,
    addr: SELF_IP,
    port: 7946,
    now: () => now,
    rng: () => ((seed = (seed * 16807) % 2147483647) / 2147483647),
    eventBuffer,
  });
  return { s, advance: (ms: number) => (now += ms) };
}

const info = (name: string, port = 8000): MemberInfo => ({
  name,
  address: "127.0.0.9",
  addr: new Uint8Array([127, 0, 0, 9]),
  port,
  tags: {},
  protocol: [2, 5, 5],
});

const of = <T extends SerfEffect["type"]>(effects: SerfEffect[], type: T) =>
  effects.filter((e): e is Extract<SerfEffect, { type: T }> => e.type === type);

const query = (over: Partial<QueryMessage> = {}): QueryMessage => ({
  type: "query",
  ltime: 4,
  id: 77,
  addr: ASKER_IP,
  port: 9000,
  filters: [],
  flags: QUERY_FLAG_ACK,
  relayFactor: 0,
  timeoutNs: 2e9,
  name: "who-has",
  payload: bytes("k"),
  ...over,
});

describe("Lamport clocks and coalescing", () => {
  test("a clock witnesses past times only and increments", () => {
    const c = new LamportClock();
    c.witness(5);
    assert.equal(c.time(), 6);
    c.witness(3);
    assert.equal(c.time(), 6);
    assert.equal(c.increment(), 7);
    c.witness(Number.NaN);
    assert.equal(c.time(), 7);
  });

  test("the coalescer keeps the newest per name, flushes at the quantum or when quiet", () => {
    const c = new UserEventCoalescer<{ name: string; ltime: number; coalesce: boolean }>(
      3000,
      1000,
    );
    assert.deepEqual(c.add({ name: "a", ltime: 1, coalesce: false }, 0).length, 1);
    c.add({ name: "a", ltime: 1, coalesce: true }, 0);
    c.add({ name: "a", ltime: 3, coalesce: true }, 500);
    c.add({ name: "a", ltime: 2, coalesce: true }, 600);
    c.add({ name: "b", ltime: 1, coalesce: true }, 700);
    assert.equal(c.flushAt, 1700);
    for (let t = 800; t < 2900; t += 800) c.add({ name: "b", ltime: 1, coalesce: true }, t);
    assert.equal(c.flushAt, 3000, "the quantum caps a steady stream");
    assert.deepEqual(c.flush().map((e) => `${e.name}${e.ltime}`).sort(), [
      "a3",
      "b1",
      "b1",
      "b1",
      "b1",
    ]);
    assert.equal(c.flushAt, Infinity);
  });
});

describe("serf intents and members", () => {
  test("a leave intent makes an alive member leaving, its memberlist leave makes it left", () => {
    const { s } = state();
    s.memberAlive(info("b"));
    const e = s.handleMessage(encodeSerfMessage({ type: "leave", ltime: 5, node: "b" }));
    assert.equal(of(e, "broadcast").length, 1, "news is re-broadcast");
    assert.equal(s.members().find((m) => m.name === "b")!.status, "leaving");
    assert.equal(
      of(s.handleMessage(encodeSerfMessage({ type: "leave", ltime: 5, node: "b" })), "broadcast")
        .length,
      0,
    );
    s.memberDown("b");
    assert.equal(s.members().find((m) => m.name === "b")!.status, "left");
    s.memberAlive(info("c"));
    s.memberDown("c");
    assert.equal(s.members().find((m) => m.name === "c")!.status, "failed");
    assert.ok(s.clock.time() > 5);
  });

  test("an old leave intent about us is refuted with a join intent", () => {
    const { s } = state();
    s.memberAlive(info("b")); // our own join intent goes out at the first peer
    const e = s.handleMessage(encodeSerfMessage({ type: "leave", ltime: 9, node: "me" }));
    const sent = of(e, "broadcast").map((b) => decodeSerfMessage(b.bytes));
    assert.deepEqual(sent.map((m) => m.type), ["join"]);
    assert.equal(s.members().find((m) => m.name === "me")!.status, "alive");
  });

  test("intents about members not seen yet are remembered and applied when they appear", () => {
    const { s } = state();
    s.handleMessage(encodeSerfMessage({ type: "leave", ltime: 3, node: "later" }));
    s.memberAlive(info("later"));
    assert.equal(s.members().find((m) => m.name === "later")!.status, "leaving");
  });
});

describe("serf user events", () => {
  test("delivered once per (time, name, payload), re-broadcast when new", () => {
    const { s } = state();
    const msg = encodeSerfMessage({
      type: "userEvent",
      ltime: 2,
      name: "purge",
      payload: bytes("/a"),
      coalesce: true,
    });
    const first = s.handleMessage(msg);
    assert.equal(of(first, "userEvent").length, 1);
    assert.equal(of(first, "broadcast").length, 1);
    assert.equal(of(first, "broadcast")[0].relay, true, "marked as another member's");
    assert.deepEqual(s.handleMessage(msg), []);
    const other = encodeSerfMessage({
      type: "userEvent",
      ltime: 2,
      name: "purge",
      payload: bytes("/b"),
      coalesce: true,
    });
    assert.equal(of(s.handleMessage(other), "userEvent").length, 1, "same time, other payload");
    assert.equal(s.stats.eventsDuplicate, 1);
  });

  test("events older than the buffer are dropped and counted", () => {
    const { s } = state({}, 4);
    s.handleMessage(
      encodeSerfMessage({
        type: "userEvent",
        ltime: 100,
        name: "x",
        payload: bytes(""),
        coalesce: false,
      }),
    );
    const old = s.handleMessage(
      encodeSerfMessage({
        type: "userEvent",
        ltime: 90,
        name: "x",
        payload: bytes(""),
        coalesce: false,
      }),
    );
    assert.equal(of(old, "userEvent").length, 0);
    assert.equal(s.stats.eventsTooOld, 1);
  });

  test("our own event is stamped, delivered here and gossiped; 512 bytes is the limit", () => {
    const { s } = state();
    const e = s.userEvent("deploy", bytes("v2"), false);
    assert.deepEqual(e.map((x) => x.type), ["userEvent", "broadcast"]);
    assert.equal(of(e, "broadcast")[0].relay, undefined);
    assert.equal(s.eventClock.time(), 1);
    assert.throws(() => s.userEvent("x", new Uint8Array(512), false), RangeError);
  });
});

describe("serf queries", () => {
  test("a query is acked at once, delivered, answered once before its deadline", () => {
    const { s, advance } = state();
    const e = s.handleMessage(encodeSerfMessage(query()));
    const acks = of(e, "send").map((x) => decodeSerfMessage(x.bytes));
    assert.deepEqual(acks.map((m) => m.type === "queryResponse" && [m.from, m.flags]), [[
      "me",
      QUERY_FLAG_ACK,
    ]]);
    assert.deepEqual([...of(e, "send")[0].ip], [...ASKER_IP]);
    assert.equal(of(e, "broadcast").length, 1);
    const q = of(e, "query")[0].query;
    const r = s.respond(q, bytes("yes"));
    assert.equal(of(r, "send").length, 1);
    assert.throws(() => s.respond(q, bytes("again")), /already/);
    const e2 = s.handleMessage(encodeSerfMessage(query({ ltime: 5, id: 1 })));
    advance(2500);
    assert.throws(() => s.respond(of(e2, "query")[0].query, bytes("late")), /deadline/);
    assert.throws(() => s.respond(q, new Uint8Array(2000)), /limit/);
  });

  test("filters by node name and by tag decide who processes it; all re-broadcast", () => {
    const { s } = state({ role: "cache", dc: "east" });
    const cases: [Uint8Array[], boolean][] = [
      [[encodeNodeFilter(["a", "me"])], true],
      [[encodeNodeFilter(["a"])], false],
      [[encodeTagFilter("role", "^cache$")], true],
      [[encodeTagFilter("role", "^web")], false],
      [[encodeTagFilter("zone", "")], true], // a missing tag is ""
      [[encodeTagFilter("dc", "(?i)EAST"), encodeNodeFilter(["me"])], true],
      [[encodeTagFilter("dc", "(a+)+$")], false], // could backtrack for ever: refused
      [[new Uint8Array([9])], false],
    ];
    let ltime = 10;
    for (const [filters, processed] of cases) {
      const e = s.handleMessage(encodeSerfMessage(query({ ltime: ltime++, filters })));
      assert.equal(of(e, "query").length, processed ? 1 : 0, `filters ${filters.map((f) => f[0])}`);
      assert.equal(of(e, "broadcast").length, 1);
    }
    const quiet = s.handleMessage(
      encodeSerfMessage(query({ ltime: 40, flags: QUERY_FLAG_NO_BROADCAST })),
    );
    assert.equal(of(quiet, "broadcast").length, 0);
    assert.equal(
      of(s.handleMessage(encodeSerfMessage(query({ ltime: 40 }))), "query").length,
      0,
      "dup",
    );
    assert.ok(matchTag("^web", "web-1") && !matchTag("[", "x"));
  });

  test("our query: acks and responses per member once, none after it ends", () => {
    const { s } = state();
    s.memberAlive(info("b"));
    const q = s.query("who-has", bytes("k"), { timeout: 1000 });
    assert.deepEqual(of(q.effects, "reply").map((r) => r.kind), ["ack"], "we ack our own query");
    const reply = (flags: number, from: string) =>
      s.handleMessage(
        encodeSerfMessage({
          type: "queryResponse",
          ltime: q.ltime,
          id: q.id,
          from,
          flags,
          payload: bytes(from),
        }),
      );
    assert.equal(of(reply(QUERY_FLAG_ACK, "b"), "reply").length, 1);
    assert.equal(of(reply(QUERY_FLAG_ACK, "b"), "reply").length, 0);
    assert.equal(of(reply(0, "b"), "reply")[0].kind, "response");
    assert.equal(of(reply(0, "b"), "reply").length, 0);
    const wrongId = s.handleMessage(
      encodeSerfMessage({
        type: "queryResponse",
        ltime: q.ltime,
        id: q.id + 1,
        from: "c",
        flags: 0,
        payload: bytes(""),
      }),
    );
    assert.equal(of(wrongId, "reply").length, 0);
    s.endQuery(q.ltime);
    assert.equal(of(reply(0, "c"), "reply").length, 0);
    assert.equal(s.stats.repliesDropped, 4);
    assert.throws(() => s.query("x", new Uint8Array(1100), { timeout: 10 }), /limit/);
  });

  test("responses are relayed through relayFactor members; relays forward responses only", () => {
    const { s } = state();
    for (const n of ["b", "c", "d"]) s.memberAlive(info(n, 8000 + n.charCodeAt(0)));
    const e = s.handleMessage(encodeSerfMessage(query({ relayFactor: 2 })));
    const sends = of(e, "send");
    assert.equal(sends.length, 3, "the ack to the asker, and through 2 relays");
    const relayed = decodeSerfMessage(sends[1].bytes);
    assert.equal(relayed.type, "relay");
    const fwd = s.handleMessage(sends[1].bytes);
    assert.deepEqual([...of(fwd, "send")[0].ip], [...ASKER_IP]);
    const bogus = encodeSerfMessage({
      type: "relay",
      ip: ASKER_IP,
      port: 1,
      message: encodeSerfMessage({ type: "join", ltime: 1, node: "x" }),
    });
    assert.equal(of(s.handleMessage(bogus), "send").length, 0);
    assert.equal(s.stats.relaysRefused, 1);
  });
});

describe("serf push/pull state", () => {
  test("local state round-trips into another member's state", () => {
    const a = state().s;
    a.memberAlive(info("b"));
    a.handleMessage(encodeSerfMessage({ type: "leave", ltime: 7, node: "b" }));
    a.memberDown("b");
    a.userEvent("e1", bytes("p"), false);
    const b = new SerfState({
      name: "z",
      tags: {},
      addr: SELF_IP,
      port: 1,
      now: () => 0,
      rng: Math.random,
      ignoreOldEvents: false,
    });
    const e = b.mergeRemoteState(a.localState(), false);
    assert.deepEqual(of(e, "userEvent").map((x) => x.event.name), ["e1"]);
    assert.ok(b.clock.time() >= a.clock.time() - 1);
    assert.equal(b.eventClock.time(), 1);
    b.memberAlive(info("b"));
    assert.equal(b.members().find((m) => m.name === "b")!.status, "leaving");
  });

  test("a join ignores the events it replays (as serf agent); bad state is counted", () => {
    const a = state().s;
    a.userEvent("old", bytes(""), false);
    const b = state().s;
    assert.equal(of(b.mergeRemoteState(a.localState(), true), "userEvent").length, 0);
    assert.deepEqual(b.mergeRemoteState(new Uint8Array([2, 0xc1]), false), []);
    assert.deepEqual(b.mergeRemoteState(new Uint8Array([3]), false), []);
    assert.equal(Object.values(b.stats.decodeErrors).reduce((x, y) => x + y, 0), 2);
  });

  test("hostile messages never throw", () => {
    const { s } = state();
    let seed = 7;
    const rnd = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    const valid = [query(), { type: "join", ltime: 1, node: "q" } as const].map(encodeSerfMessage);
    for (let i = 0; i < 3000; i++) {
      const base = valid[i % valid.length].slice();
      for (let k = 0; k < 3; k++) base[Math.floor(rnd() * base.length)] = Math.floor(rnd() * 256);
      s.handleMessage(base);
      s.mergeRemoteState(base, false);
    }
    assert.ok(s.stats.messagesIn > 0);
  });
});
