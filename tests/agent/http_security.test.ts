/**
 * The agent's HTTP API against hostile callers, over real HTTP on 127.0.0.1 (the runtime's own
 * server): the Host allowlist (DNS rebinding), reads behind the token, the event-stream cap,
 * and the URL/header/body limits, each counted in `shoal_http_refused_total`.
 *
 * Requests go over raw sockets where the test needs a Host header fetch would not send, or a
 * body that never ends.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { createNode, type ShoalNode } from "../../mod.ts";
import { type Api, type ApiOptions, createApi } from "../../src/http/api.ts";
import { type HttpServer, serveHttp } from "../../src/http/server.ts";
import { ChangeTracker } from "../../src/http/tracker.ts";
import { agentCommand, agentOptions } from "../../src/cli/commands/agent.ts";
import { startAgent } from "../../src/agent/agent.ts";
import { UsageError } from "../../src/cli/usage.ts";
import { FAST } from "../node/helpers.ts";
import { eventually } from "./helpers.ts";

const T = { timeout: 60_000 };

/** A response read off a raw socket. */
interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** Parse a status line and headers; `undefined` until the header block is complete. */
function parseHead(
  text: string,
): { status: number; headers: Map<string, string>; rest: string } | undefined {
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const [statusLine, ...lines] = text.slice(0, end).split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { status, headers, rest: text.slice(end + 4) };
}

/** Connect to 127.0.0.1:`port`. */
function dial(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port }, () => resolve(socket));
    socket.once("error", reject);
  });
}

/**
 * Send `head` (and `body`) on a new connection, and resolve once the response head has
 * arrived and either the body is complete (`Content-Length`, or the connection ended) or,
 * with `headOnly`, at once; the socket is then destroyed unless `keep` is set.
 */
async function raw(
  port: number,
  head: string,
  opts: { body?: string; headOnly?: boolean; keep?: (s: Socket) => void } = {},
): Promise<RawResponse> {
  const socket = await dial(port);
  return await new Promise<RawResponse>((resolve, reject) => {
    let text = "";
    let done = false;
    const timer = setTimeout(
      () => finish(new Error(`no response to ${head.split("\r\n")[0]}`)),
      20_000,
    );
    const finish = (error?: Error, res?: RawResponse) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (res && opts.keep) opts.keep(socket);
      else socket.destroy();
      if (error) reject(error);
      else resolve(res!);
    };
    const tryParse = (ended: boolean) => {
      const parsed = parseHead(text);
      if (!parsed) {
        if (ended) {
          finish(new Error(`connection ended without a response: ${JSON.stringify(text)}`));
        }
        return;
      }
      const length = Number(parsed.headers.get("content-length") ?? NaN);
      const complete = opts.headOnly || ended ||
        (!Number.isNaN(length) && new TextEncoder().encode(parsed.rest).length >= length);
      if (complete) {
        finish(undefined, { status: parsed.status, headers: parsed.headers, body: parsed.rest });
      }
    };
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      text += chunk;
      tryParse(false);
    });
    socket.on("end", () => tryParse(true));
    socket.on("close", () => tryParse(true));
    socket.on("error", () => tryParse(true));
    socket.write(head + (opts.body ?? ""));
  });
}

/** A request head: request line, `Host`, extra header lines, then the blank line. */
const req = (method: string, path: string, host: string, extra: string[] = []): string =>
  [`${method} ${path} HTTP/1.1`, `Host: ${host}`, ...extra, ""].join("\r\n") + "\r\n";

const jsonHeaders = (length: number) => [
  "Content-Type: application/json",
  `Content-Length: ${length}`,
  "Connection: close",
];

/** The value of one sample of `GET /metrics`. */
async function metric(base: string, sample: string, headers: Record<string, string> = {}) {
  const text = await (await fetch(`${base}/metrics`, { headers })).text();
  for (const line of text.split("\n")) {
    if (line.startsWith(sample + " ")) return Number(line.slice(sample.length + 1));
  }
  throw new Error(`no sample ${sample} in /metrics`);
}

/** One node served by an API with `options`, on 127.0.0.1. */
class Served {
  node!: ShoalNode;
  tracker!: ChangeTracker;
  api!: Api;
  server!: HttpServer;
  left = 0;
  get port(): number {
    return this.server.port;
  }
  get base(): string {
    return `http://127.0.0.1:${this.server.port}`;
  }
  async start(name: string, options: Partial<ApiOptions> = {}): Promise<this> {
    this.node = await createNode({ name, bind: "127.0.0.1:0", config: FAST });
    this.tracker = new ChangeTracker(this.node);
    this.api = createApi({
      view: this.node,
      tracker: this.tracker,
      onLeft: () => this.left++,
      ...options,
    });
    const handler = this.api.handle;
    this.server = await serveHttp({ host: "127.0.0.1", port: 0, handler });
    return this;
  }
  async stop(): Promise<void> {
    this.api?.close();
    await this.server?.close();
    this.tracker?.close();
    await this.node?.close();
  }
}

describe("HTTP API security", { timeout: 180_000 }, () => {
  describe("Host allowlist (DNS rebinding)", () => {
    const s = new Served();
    before(() => s.start("sec-host", { allowedHosts: ["Shoal.Internal"] }));
    after(() => s.stop());

    test("a foreign Host is refused for GET and POST, and the node does not leave", T, async () => {
      const evil = `rebind.example:${s.port}`;
      const get = await raw(s.port, req("GET", "/v1/members", evil, ["Connection: close"]));
      assert.equal(get.status, 421);
      assert.match(JSON.parse(get.body).error, /does not answer to that Host/);
      const page = await raw(s.port, req("GET", "/", evil, ["Connection: close"]));
      assert.equal(page.status, 421, "not even the dashboard");
      const body = "{}";
      const leave = await raw(s.port, req("POST", "/v1/leave", evil, jsonHeaders(body.length)), {
        body,
      });
      assert.equal(leave.status, 421);
      const join = JSON.stringify({ addresses: ["127.0.0.1:1"] });
      const joined = await raw(
        s.port,
        req("POST", "/v1/join", `127.0.0.1.nip.example:${s.port}`, jsonHeaders(join.length)),
        { body: join },
      );
      assert.equal(joined.status, 421, "a name that starts like an IP is still a name");
      assert.equal(s.node.localMember().state, "alive");
      assert.equal(s.node.closed, false);
      assert.equal(s.left, 0);
      assert.equal(await metric(s.base, 'shoal_http_refused_total{reason="host"}'), 4);
    });

    test("loopback names, IP literals and configured names are answered", T, async () => {
      for (
        const host of [
          `127.0.0.1:${s.port}`,
          `localhost:${s.port}`,
          "LOCALHOST",
          `127.8.9.10:${s.port}`,
          `[::1]:${s.port}`,
          "10.1.2.3",
          `shoal.internal:${s.port}`,
          "shoal.internal.",
        ]
      ) {
        const res = await raw(s.port, req("GET", "/v1/health", host, ["Connection: close"]));
        assert.equal(res.status, 200, `Host: ${host}: ${res.body}`);
      }
      for (
        const host of [
          "localhost.rebind.example",
          "other.internal",
          "256.1.1.1",
          "127.0.0.1:x",
          "[::1",
          "",
        ]
      ) {
        const res = await raw(s.port, req("GET", "/v1/health", host, ["Connection: close"]));
        assert.ok(res.status === 421 || res.status === 400, `Host: ${host} got ${res.status}`);
      }
    });

    test("bad allowedHosts entries are refused when the API is built", T, () => {
      for (const name of ["evil.example:80", "a b", "", "http://x"]) {
        assert.throws(
          () => createApi({ view: s.node, tracker: s.tracker, allowedHosts: [name] }),
          TypeError,
          name,
        );
      }
    });
  });

  describe("a leave with an allowed Host still works (control)", () => {
    const s = new Served();
    before(() => s.start("sec-leave"));
    after(() => s.stop());

    test("POST /v1/leave with Host 127.0.0.1 leaves", T, async () => {
      const body = "{}";
      const res = await raw(
        s.port,
        req("POST", "/v1/leave", `127.0.0.1:${s.port}`, jsonHeaders(body.length)),
        { body },
      );
      assert.equal(res.status, 200, res.body);
      assert.equal(s.node.localMember().state, "left");
      await eventually(() => s.left === 1 ? true : undefined, 10_000, "onLeft");
    });
  });

  describe("reads behind the token", () => {
    const locked = new Served(), open = new Served(), none = new Served();
    before(async () => {
      await locked.start("sec-locked", { token: "s3cret" });
      await open.start("sec-open", { token: "s3cret", authenticateReads: false });
      await none.start("sec-none");
    });
    after(() => Promise.all([locked.stop(), open.stop(), none.stop()]));

    test("with a token, GETs need it by default (Bearer or Basic)", T, async () => {
      for (const path of ["/", "/v1/members", "/v1/health", "/metrics", "/v1/events"]) {
        const res = await fetch(`${locked.base}${path}`);
        assert.equal(res.status, 401, path);
        assert.match(res.headers.get("www-authenticate") ?? "", /^Basic realm="shoal"/);
        await res.body?.cancel();
      }
      const wrong = await fetch(`${locked.base}/v1/health`, {
        headers: { authorization: "Bearer nope" },
      });
      assert.equal(wrong.status, 403);
      await wrong.body?.cancel();
      const bearer = await fetch(`${locked.base}/v1/health`, {
        headers: { authorization: "Bearer s3cret" },
      });
      assert.equal(bearer.status, 200);
      assert.equal((await bearer.json()).name, "sec-locked");
      const basic = await fetch(`${locked.base}/v1/members`, {
        headers: { authorization: `Basic ${btoa("anyone:s3cret")}` },
      });
      assert.equal(basic.status, 200);
      assert.equal((await basic.json()).members.length, 1);
      const basicWrong = await fetch(`${locked.base}/v1/members`, {
        headers: { authorization: `Basic ${btoa("s3cret:nope")}` },
      });
      assert.equal(basicWrong.status, 403);
      await basicWrong.body?.cancel();
      const auth = { authorization: "Bearer s3cret" };
      assert.equal(
        await metric(locked.base, 'shoal_http_refused_total{reason="unauthenticated"}', auth),
        5,
      );
      assert.equal(
        await metric(locked.base, 'shoal_http_refused_total{reason="forbidden"}', auth),
        2,
      );
      assert.equal(await metric(locked.base, "shoal_http_event_streams", auth), 0, "no slot held");
    });

    test("Basic credentials do not authorize mutations", T, async () => {
      const res = await fetch(`${locked.base}/v1/join`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: `Basic ${btoa("x:s3cret")}`,
        },
        body: JSON.stringify({ addresses: ["127.0.0.1:1"] }),
      });
      assert.equal(res.status, 401);
      await res.body?.cancel();
    });

    test(
      "authenticateReads: false serves GETs without it; mutations still need it",
      T,
      async () => {
        const res = await fetch(`${open.base}/v1/health`);
        assert.equal(res.status, 200);
        await res.body?.cancel();
        const join = await fetch(`${open.base}/v1/join`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ addresses: ["127.0.0.1:1"] }),
        });
        assert.equal(join.status, 401);
        await join.body?.cancel();
      },
    );

    test("without a token, reads are open", T, async () => {
      const res = await fetch(`${none.base}/v1/health`);
      assert.equal(res.status, 200);
      await res.body?.cancel();
    });
  });

  describe("event-stream cap", () => {
    const MAX = 3;
    const s = new Served();
    const sockets: Socket[] = [];
    before(() => s.start("sec-sse", { maxEventStreams: MAX, healthIntervalMs: 100 }));
    after(async () => {
      for (const socket of sockets) socket.destroy();
      await s.stop();
    });

    const openStream = (keep: boolean) =>
      raw(s.port, req("GET", "/v1/events", `127.0.0.1:${s.port}`), {
        headOnly: true,
        keep: keep ? (socket) => sockets.push(socket) : undefined,
      });

    test("the N+1th stream gets 503 and is counted; closing one makes room", T, async () => {
      for (let i = 0; i < MAX; i++) {
        const res = await openStream(true);
        assert.equal(res.status, 200, `stream ${i + 1}`);
        assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
      }
      assert.equal(await metric(s.base, "shoal_http_event_streams"), MAX);
      const refused = await raw(
        s.port,
        req("GET", "/v1/events", `127.0.0.1:${s.port}`, ["Connection: close"]),
      );
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get("retry-after"), "5");
      assert.match(JSON.parse(refused.body).error, /too many event streams/);
      assert.equal(await metric(s.base, 'shoal_http_refused_total{reason="too-many-streams"}'), 1);
      assert.equal(await metric(s.base, "shoal_http_event_streams_max"), MAX);
      // A HEAD takes no slot.
      const head = await raw(s.port, req("HEAD", "/v1/events", `127.0.0.1:${s.port}`), {
        headOnly: true,
      });
      assert.equal(head.status, 200);

      sockets.shift()!.destroy();
      await eventually(
        async () => (await metric(s.base, "shoal_http_event_streams")) < MAX ? true : undefined,
        20_000,
        "the server to notice the closed stream",
      );
      const again = await openStream(true);
      assert.equal(again.status, 200);
      assert.equal(await metric(s.base, "shoal_http_event_streams"), MAX);
    });
  });

  describe("size limits", () => {
    const s = new Served();
    before(() => s.start("sec-size"));
    after(() => s.stop());

    test("an oversized body gets 413 (declared length)", T, async () => {
      const res = await fetch(`${s.base}/v1/join`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ addresses: ["127.0.0.1:1"], pad: "x".repeat(100_000) }),
      });
      assert.equal(res.status, 413);
      assert.match((await res.json()).error, /too large/);
      // Only the head and a few bytes of a 10 MB body are sent: the answer must not wait.
      const big = await raw(
        s.port,
        req("POST", "/v1/join", `127.0.0.1:${s.port}`, [
          "Content-Type: application/json",
          "Content-Length: 10000000",
        ]),
        { body: '{"addresses":', headOnly: true },
      );
      assert.equal(big.status, 413);
      assert.equal(await metric(s.base, 'shoal_http_refused_total{reason="body-too-large"}'), 2);
    });

    test("a chunked body is refused once past the limit, before it ends", T, async () => {
      // Just over the limit, so the server has read everything sent when it answers (unread
      // bytes at its close would reset the connection before the answer is read).
      const sizes = [16_384, 16_384, 16_384, 16_384, 100];
      const chunks = sizes.map((n) => `${n.toString(16)}\r\n${"x".repeat(n)}\r\n`);
      const res = await raw(
        s.port,
        req("POST", "/v1/join", `127.0.0.1:${s.port}`, [
          "Content-Type: application/json",
          "Transfer-Encoding: chunked",
        ]),
        { body: chunks.join(""), headOnly: true }, // no last chunk: the body never ends
      );
      assert.equal(res.status, 413);
      assert.equal(await metric(s.base, 'shoal_http_refused_total{reason="body-too-large"}'), 3);
    });

    test("an overlong URL and oversized headers are refused", T, async () => {
      const url = await raw(
        s.port,
        req("GET", `/v1/members?status=${"alive,".repeat(1500)}alive`, `127.0.0.1:${s.port}`, [
          "Connection: close",
        ]),
      );
      assert.ok(url.status === 414 || url.status === 431, `got ${url.status}`);
      const headers = await raw(
        s.port,
        req("GET", "/v1/health", `127.0.0.1:${s.port}`, [
          ...Array.from({ length: 20 }, (_, i) => `X-Pad-${i}: ${"p".repeat(1000)}`),
          "Connection: close",
        ]),
      );
      assert.equal(headers.status, 431);
      assert.equal((await fetch(`${s.base}/v1/health`)).status, 200, "still serving");
    });
  });

  describe("agent command line", () => {
    const base = {
      bind: "127.0.0.1:0",
      join: [],
      profile: "lan",
      meta: [],
      key: [],
      tune: [],
      json: false,
      "http-public-reads": false,
      "http-allow-host": [],
    };
    type Values = Parameters<typeof agentOptions>[0];

    test(
      "--allow-cidr reaches the protocol settings; a bad network is a usage error",
      T,
      async () => {
        const set = await agentOptions({
          ...base,
          name: "n",
          "allow-cidr": ["127.0.0.0/8", "::1/128"],
        } as unknown as Values);
        assert.deepEqual(set.tune?.allowedCidrs, ["127.0.0.0/8", "::1/128"]);
        await assert.rejects(
          agentOptions({ ...base, name: "n", "allow-cidr": ["127.0.0.0/40"] } as unknown as Values),
          (e: unknown) => e instanceof UsageError && /--allow-cidr/.test((e as Error).message),
        );
      },
    );

    test("--http-allow-host and --http-public-reads", T, async () => {
      const plain = await agentOptions({ ...base, name: "n" } as unknown as Values);
      assert.deepEqual(plain.httpAllowedHosts, []);
      assert.equal(plain.httpAuthenticateReads, true);
      const set = await agentOptions({
        ...base,
        name: "n",
        "http-allow-host": ["Shoal.Internal", "agent.lan."],
        "http-public-reads": true,
      } as unknown as Values);
      assert.deepEqual(set.httpAllowedHosts, ["shoal.internal", "agent.lan"]);
      assert.equal(set.httpAuthenticateReads, false);
      await assert.rejects(
        agentCommand.run(["--name", "n", "--http-allow-host", "evil.example:80"]),
        (e: unknown) => e instanceof UsageError && /--http-allow-host/.test(e.message),
      );
    });
  });
});

test("an agent passes its allowed hosts and read protection on to the API", async () => {
  const agent = await startAgent({
    name: "hosts",
    bind: "127.0.0.1:0",
    http: "127.0.0.1:0",
    httpToken: "t0ken",
    httpAllowedHosts: ["shoal.test"],
    httpAuthenticateReads: false,
  });
  try {
    const port = agent.http!.port;
    const ok = await raw(port, req("GET", "/v1/members", "shoal.test", ["Connection: close"]));
    assert.equal(ok.status, 200, "an allowed name, and reads open although a token is set");
    const other = await raw(port, req("GET", "/v1/members", "evil.test", ["Connection: close"]));
    assert.equal(other.status, 421);
  } finally {
    await agent.shutdown({ leave: false });
  }
});
