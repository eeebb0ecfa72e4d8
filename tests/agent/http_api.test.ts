/**
 * The agent's HTTP API in-process, on the runtime's own server (Deno.serve / Bun.serve):
 * every route, malformed input (4xx JSON), the Prometheus text, Server-Sent Events, and the
 * rule that mutating routes accept only loopback callers unless a token is configured.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { networkInterfaces } from "node:os";
import { createNode, type ShoalNode } from "../../mod.ts";
import { type Agent, startAgent } from "../../src/agent/agent.ts";
import { encodeTags } from "../../src/node/tags.ts";
import { createApi } from "../../src/http/api.ts";
import { FAST } from "../node/helpers.ts";
import { eventually } from "./helpers.ts";

const T = { timeout: 30_000 };

/** A non-loopback IPv4 address of this host, if it has one. */
function outsideAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return undefined;
}

async function json(res: Response): Promise<Record<string, unknown>> {
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  return await res.json() as Record<string, unknown>;
}

describe("HTTP API", { timeout: 120_000 }, () => {
  let agent: Agent;
  let base = "";
  const nodes: ShoalNode[] = [];
  const others: Agent[] = [];

  before(async () => {
    agent = await startAgent({
      name: "api-a",
      bind: "127.0.0.1:0",
      http: "127.0.0.1:0",
      tags: { role: "api", zone: "z1" },
      tune: FAST,
      healthIntervalMs: 200,
    });
    base = `http://127.0.0.1:${agent.http!.port}`;
    const seed = `127.0.0.1:${agent.node.address.port}`;
    for (const name of ["api-b", "api-c"]) {
      nodes.push(
        await createNode({
          name,
          bind: "127.0.0.1:0",
          seeds: [seed],
          config: FAST,
          meta: name === "api-b" ? encodeTags({ role: "db" }) : new Uint8Array([1, 2, 3]),
        }),
      );
    }
    await eventually(
      () => agent.node.members("alive").length === 3 ? true : undefined,
      20_000,
      "3 alive",
    );
  });

  after(async () => {
    await Promise.all([agent, ...others].map((a) => a.shutdown()));
    await Promise.all(nodes.map((n) => n.close()));
  });

  test("GET /v1/members lists every member, sorted, with tags", T, async () => {
    const body = await json(await fetch(`${base}/v1/members`));
    const members = body.members as Record<string, unknown>[];
    assert.deepEqual(members.map((m) => m.name), ["api-a", "api-b", "api-c"]);
    assert.deepEqual(members[0].meta, { role: "api", zone: "z1" });
    assert.deepEqual(members[1].meta, { role: "db" });
    assert.equal(members[2].meta, null, "non-tag metadata");
    assert.equal(members[2].metaBase64, "AQID");
    for (const m of members) {
      assert.equal(m.state, "alive");
      assert.equal(m.address, "127.0.0.1");
      assert.equal(typeof m.port, "number");
      assert.equal(typeof m.incarnation, "number");
      assert.ok(!Number.isNaN(Date.parse(m.changedAt as string)));
    }
    const alive = await json(await fetch(`${base}/v1/members?status=alive,suspect`));
    assert.equal((alive.members as unknown[]).length, 3);
    const dead = await json(await fetch(`${base}/v1/members?status=dead`));
    assert.deepEqual(dead.members, []);
  });

  test("GET /v1/members/:name", T, async () => {
    const b = await json(await fetch(`${base}/v1/members/api-b`));
    assert.equal(b.name, "api-b");
    assert.equal(b.state, "alive");
    const missing = await fetch(`${base}/v1/members/nobody`);
    assert.equal(missing.status, 404);
    assert.match((await json(missing)).error as string, /no member named "nobody"/);
  });

  test("GET /v1/health", T, async () => {
    const h = await json(await fetch(`${base}/v1/health`));
    assert.equal(h.name, "api-a");
    assert.equal(h.state, "alive");
    assert.equal(typeof h.healthScore, "number");
    assert.equal(typeof h.healthScoreKnown, "boolean");
    assert.deepEqual(h.members, { alive: 3, suspect: 0, unreachable: 0, dead: 0, left: 0 });
  });

  test("GET /metrics is well-formed Prometheus text with every family", T, async () => {
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const typed = new Map<string, string>();
    const values = new Map<string, number>();
    for (const line of text.trimEnd().split("\n")) {
      const t = /^# TYPE (\w+) (counter|gauge|histogram)$/.exec(line);
      if (t) {
        typed.set(t[1], t[2]);
        continue;
      }
      if (line.startsWith("# HELP ")) continue;
      const m = /^(\w+)(\{(?:\w+="(?:[^"\\]|\\.)*",?)*\})? (\S+)$/.exec(line);
      assert.ok(m, `malformed sample line: ${line}`);
      const family = m[1].replace(/_(bucket|sum|count)$/, "");
      assert.ok(typed.has(m[1]) || typed.get(family) === "histogram", `untyped: ${m[1]}`);
      assert.ok(!Number.isNaN(Number(m[3])), line);
      values.set(m[1] + (m[2] ?? ""), Number(m[3]));
    }
    assert.equal(values.get('shoal_members{state="alive"}'), 3);
    assert.equal(values.get('shoal_members{state="dead"}'), 0);
    for (
      const name of [
        "shoal_probes_total",
        "shoal_probes_failed_total",
        "shoal_indirect_probes_total",
        "shoal_suspicions_raised_total",
        "shoal_suspicions_refuted_total",
        "shoal_dead_declarations_total",
        "shoal_health_score",
        "shoal_packets_received_total",
        "shoal_packets_sent_total",
        "shoal_bytes_received_total",
        "shoal_bytes_sent_total",
        "shoal_broadcast_queue_depth",
        "shoal_probe_rtt_seconds_sum",
        "shoal_probe_rtt_seconds_count",
      ]
    ) assert.ok(values.has(name), `missing ${name}`);
    assert.ok(values.get("shoal_packets_received_total")! > 0);
    assert.ok(values.has('shoal_decode_errors_total{kind="bad-crc"}'));
    assert.ok(values.has('shoal_decode_errors_total{kind="decrypt-failed"}'));
    assert.equal(typed.get("shoal_probe_rtt_seconds"), "histogram");
    const buckets = [...values].filter(([k]) => k.startsWith("shoal_probe_rtt_seconds_bucket"));
    assert.equal(buckets.at(-1)![0], 'shoal_probe_rtt_seconds_bucket{le="+Inf"}');
    assert.equal(buckets.at(-1)![1], values.get("shoal_probe_rtt_seconds_count"));
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i][1] >= buckets[i - 1][1]);
  });

  test("GET / serves the dashboard page", T, async () => {
    const res = await fetch(`${base}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
    const html = await res.text();
    assert.match(html, /<title>shoal<\/title>/);
    assert.match(html, /new EventSource\("v1\/events"\)/);
    assert.doesNotMatch(html, /<script src=|<link /, "self-contained");
  });

  test("GET /v1/events: a snapshot, then live member and health events", T, async () => {
    const abort = new AbortController();
    const res = await fetch(`${base}/v1/events`, { signal: abort.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    const seen: { event: string; data: Record<string, unknown> }[] = [];
    let buffer = "";
    const next = async (want: (e: { event: string; data: Record<string, unknown> }) => boolean) => {
      for (let i = 0; i < 1000; i++) {
        const found = seen.find(want);
        if (found) return found;
        const { value, done } = await reader.read();
        if (done) throw new Error("stream ended");
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1] ?? "message";
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (data) seen.push({ event, data: JSON.parse(data) });
        }
      }
      throw new Error("no such event");
    };
    try {
      const snap = await next((e) => e.event === "snapshot");
      assert.equal(snap.data.self, "api-a");
      assert.equal((snap.data.members as unknown[]).length, 3);
      const late = await createNode({
        name: "api-late",
        bind: "127.0.0.1:0",
        seeds: [`127.0.0.1:${agent.node.address.port}`],
        config: FAST,
      });
      nodes.push(late);
      const join = await next((e) =>
        e.event === "member" && (e.data.member as { name: string }).name === "api-late"
      );
      assert.equal(join.data.type, "join");
      assert.ok(!Number.isNaN(Date.parse(join.data.time as string)));
      const health = await next((e) => e.event === "health");
      assert.equal(health.data.name, "api-a");
    } finally {
      abort.abort();
      await reader.cancel().catch(() => {});
    }
  });

  test("POST /v1/join announces to a new member", T, async () => {
    const loner = await createNode({ name: "api-loner", bind: "127.0.0.1:0", config: FAST });
    nodes.push(loner);
    const res = await fetch(`${base}/v1/join`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ addresses: [`127.0.0.1:${loner.address.port}`] }),
    });
    assert.equal(res.status, 200, JSON.stringify(await res.clone().json()));
    assert.equal((await json(res)).ok, true);
    await eventually(
      () => loner.member("api-a")?.state === "alive" ? true : undefined,
      20_000,
      "the loner to see api-a",
    );
  });

  test("malformed requests get 4xx JSON errors", T, async () => {
    const post = (path: string, body: BodyInit | null, type = "application/json") =>
      fetch(`${base}${path}`, { method: "POST", headers: { "content-type": type }, body });
    const cases: [Promise<Response>, number, RegExp][] = [
      [post("/v1/join", "{not json"), 400, /not valid JSON/],
      [post("/v1/join", "[1,2]"), 400, /JSON object/],
      [post("/v1/join", "{}"), 400, /"addresses" must be/],
      [post("/v1/join", '{"addresses":[]}'), 400, /"addresses" must be/],
      [post("/v1/join", '{"addresses":[7946]}'), 400, /"addresses" must be/],
      [post("/v1/join", '{"addresses":"127.0.0.1:1"}'), 400, /"addresses" must be/],
      [post("/v1/join", '{"addresses":["no.such.host:x"]}'), 400, /invalid/],
      [post("/v1/join", '{"addresses":["127.0.0.1:1"]}', "text/plain"), 415, /must be JSON/],
      [post("/v1/join", "x".repeat(70_000)), 413, /too large/],
      [fetch(`${base}/v1/join`), 405, /not allowed/],
      [post("/v1/members", "{}"), 405, /not allowed/],
      [fetch(`${base}/v1/nope`), 404, /no such route/],
      [fetch(`${base}/v1/members/%E0%A4%A`), 400, /malformed member name/],
      [fetch(`${base}/v1/members?status=zombie`), 400, /unknown status "zombie"/],
      [fetch(`${base}/v1/health`, { method: "DELETE" }), 405, /not allowed/],
    ];
    for (const [pending, status, message] of cases) {
      const res = await pending;
      const body = await json(res);
      assert.equal(res.status, status, `${String(body.error)}`);
      assert.match(String(body.error), message);
    }
    const res = await fetch(`${base}/v1/join`);
    assert.equal(res.headers.get("allow"), "POST");
    await res.body?.cancel();
  });

  test("mutating routes: loopback only without a token (handler level)", T, async () => {
    const api = createApi({ view: agent.node, tracker: agent.tracker });
    const join = (headers: Record<string, string> = {}) =>
      new Request("http://127.0.0.1:1/v1/join", {
        method: "POST",
        headers: { "content-type": "application/json", host: "127.0.0.1:1", ...headers },
        body: JSON.stringify({ addresses: [`127.0.0.1:${agent.node.address.port}`] }),
      });
    assert.equal((await api.handle(join(), "192.0.2.7")).status, 403);
    assert.equal((await api.handle(join(), "::ffff:10.1.2.3")).status, 403);
    assert.equal((await api.handle(join(), "127.0.0.1")).status, 200);
    assert.equal((await api.handle(join(), "::1")).status, 200);
    assert.equal((await api.handle(join(), "::ffff:127.0.0.1")).status, 200);
    // Reads stay open to anyone who can reach the server.
    const read = await api.handle(new Request("http://127.0.0.1:1/v1/health"), "192.0.2.7");
    assert.equal(read.status, 200);
    // A page from another origin cannot drive the agent, even through loopback.
    const cross = await api.handle(join({ origin: "http://evil.example" }), "127.0.0.1");
    assert.equal(cross.status, 403);
    assert.match(String((await json(cross)).error), /cross-origin/);
    const same = await api.handle(join({ origin: "http://127.0.0.1:1" }), "127.0.0.1");
    assert.equal(same.status, 200);
    api.close();
  });

  test("mutating routes: with a token, anyone holding it (handler level)", T, async () => {
    const api = createApi({ view: agent.node, tracker: agent.tracker, token: "s3cret" });
    const join = (auth?: string) =>
      new Request("http://127.0.0.1:1/v1/join", {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(auth ? { authorization: auth } : {}),
        },
        body: JSON.stringify({ addresses: [`127.0.0.1:${agent.node.address.port}`] }),
      });
    const none = await api.handle(join(), "192.0.2.7");
    assert.equal(none.status, 401);
    assert.match(none.headers.get("www-authenticate") ?? "", /^Bearer/);
    assert.equal((await api.handle(join(), "127.0.0.1")).status, 401, "loopback needs it too");
    assert.equal((await api.handle(join("Bearer wrong"), "192.0.2.7")).status, 403);
    assert.equal((await api.handle(join("Basic s3cret"), "192.0.2.7")).status, 401);
    assert.equal((await api.handle(join("Bearer s3cret"), "192.0.2.7")).status, 200);
    api.close();
  });

  test("mutating routes over the network: refused off loopback, allowed with the token", {
    timeout: 60_000,
  }, async (t) => {
    const ip = outsideAddress();
    if (!ip) {
      t.skip("this host has no non-loopback IPv4 address");
      return;
    }
    const open = await startAgent({ name: "api-open", bind: "127.0.0.1:0", http: "0.0.0.0:0" });
    const locked = await startAgent({
      name: "api-locked",
      bind: "127.0.0.1:0",
      http: "0.0.0.0:0",
      httpToken: "s3cret",
    });
    others.push(open, locked);
    const post = (port: number, host: string, path: string, token?: string) =>
      fetch(`http://${host}:${port}${path}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify({ addresses: [`127.0.0.1:${agent.node.address.port}`] }),
      });
    const refused = await post(open.http!.port, ip, "/v1/join");
    assert.equal(refused.status, 403);
    assert.match(String((await json(refused)).error), /only loopback callers/);
    assert.equal((await post(open.http!.port, "127.0.0.1", "/v1/join")).status, 200);
    const health = await fetch(`http://${ip}:${open.http!.port}/v1/health`);
    assert.equal(health.status, 200, "reads are not restricted");
    await health.body?.cancel();
    assert.equal((await post(locked.http!.port, ip, "/v1/join")).status, 401);
    assert.equal((await post(locked.http!.port, ip, "/v1/join", "s3cret")).status, 200);
    // With the token, even leave works from off loopback; the agent then shuts down.
    const left = await post(locked.http!.port, ip, "/v1/leave", "s3cret");
    assert.equal(left.status, 200);
    assert.deepEqual(await json(left), { ok: true, name: "api-locked", state: "left" });
    await locked.done;
    assert.equal(locked.node.closed, true);
  });
});
