/**
 * shoal on Node.js through the `node:dgram` and `node:net` adapters: the adapters in-process
 * (under Deno and Bun), then the real thing — the CLI bundled with esbuild and run by `node`, joining a Deno
 * agent in another process. Also Deno without `--unstable-net` (as when run from JSR), which
 * falls back to `node:dgram`.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createNode, type ShoalNode } from "../../mod.ts";
import { nodeDatagram } from "../../src/transport/node_udp.ts";
import { nodeStream } from "../../src/transport/node_tcp.ts";
import { StreamError } from "../../src/transport/stream_types.ts";
import { AddressInUseError } from "../../src/transport/types.ts";
import { allSeeAlive, FAST, waitFor } from "../node/helpers.ts";
import { AgentProcess, bin, eventually, FAST_TUNE, root, ShoalProcess } from "./helpers.ts";

const T = { timeout: 30_000 };

describe("node:dgram adapter in-process", () => {
  test("binds, delivers in order, reports an address in use, closes twice", T, async () => {
    const got: string[] = [];
    const a = await nodeDatagram.bind({
      host: "127.0.0.1",
      port: 0,
      onDatagram: (bytes, from) => got.push(`${new TextDecoder().decode(bytes)}@${from.host}`),
    });
    const b = await nodeDatagram.bind({ host: "127.0.0.1", port: 0, onDatagram: () => {} });
    try {
      assert.ok(a.local.port > 0);
      for (let i = 0; i < 20; i++) b.send(a.local, new TextEncoder().encode(`m${i}`));
      await waitFor(() => got.length === 20, 5000, "20 datagrams");
      assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => `m${i}@127.0.0.1`));
      assert.equal(b.stats.packetsOut, 20);
      assert.equal(a.stats.packetsIn, 20);
      await assert.rejects(
        nodeDatagram.bind({ host: "127.0.0.1", port: a.local.port, onDatagram: () => {} }),
        AddressInUseError,
      );
      b.send({ host: "not-an-ip", port: 1 }, new Uint8Array([1]));
      await waitFor(() => b.stats.sendErrors === 1, 5000, "a counted send error");
    } finally {
      await a.close();
      await b.close();
      await b.close();
    }
    b.send(a.local, new Uint8Array([1]));
    assert.equal(b.stats.sendErrors, 2, "sending after close is counted, not thrown");
  });

  test("three nodes on node:dgram converge", T, async () => {
    const nodes: ShoalNode[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        nodes.push(
          await createNode({
            name: `nd${i}`,
            bind: "127.0.0.1:0",
            seeds: i ? [`127.0.0.1:${nodes[0].address.port}`] : [],
            config: FAST,
            transport: nodeDatagram,
          }),
        );
      }
      await waitFor(() => allSeeAlive(nodes, ["nd0", "nd1", "nd2"]), 20_000, "convergence");
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
    }
  });
});

describe("node:net adapter in-process", () => {
  test("echo 200 KiB, refused dial, close semantics, address in use, port freed", T, async () => {
    const size = 200 * 1024;
    const data = Uint8Array.from({ length: size }, (_, i) => (i * 7 + (i >> 9)) & 0xff);
    const listener = await nodeStream.listen({
      host: "127.0.0.1",
      port: 0,
      onConnection: async (conn) => {
        const parts: Uint8Array[] = [];
        let n = 0;
        while (n < size) {
          const chunk = await conn.read();
          if (!chunk) break;
          parts.push(chunk);
          n += chunk.length;
        }
        for (const p of parts) await conn.write(p);
        await conn.close();
      },
    });
    const port = listener.local.port;
    try {
      const conn = await nodeStream.dial(listener.local, 2000);
      await conn.write(data);
      const got: number[] = [];
      for (let chunk = await conn.read(); chunk; chunk = await conn.read()) got.push(...chunk);
      assert.equal(got.length, size);
      assert.ok(got.every((b, i) => b === data[i]), "echoed bytes match");
      assert.equal(conn.closed, true);
      await conn.close();
      await conn.close();
      assert.equal(await conn.read(), null);
      await assert.rejects(conn.write(new Uint8Array([1])), StreamError);
      assert.equal(listener.stats.accepted, 1);
      await assert.rejects(
        nodeStream.listen({ host: "127.0.0.1", port, onConnection: () => {} }),
        AddressInUseError,
      );
    } finally {
      await listener.close();
    }
    await assert.rejects(
      nodeStream.dial({ host: "127.0.0.1", port }, 2000),
      (e: unknown) => e instanceof StreamError && e.kind === "refused",
    );
    const again = await nodeStream.listen({ host: "127.0.0.1", port, onConnection: () => {} });
    await again.close();
  });
});

/** Run a process to completion. */
function run(cmd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout!.on("data", (c: Buffer) => (out += c));
    child.stderr!.on("data", (c: Buffer) => (out += c));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out }));
  });
}

describe("a Node.js agent joins a Deno agent", { timeout: 120_000 }, () => {
  let dir = "";
  let bundle = "";
  const procs: ShoalProcess[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "shoal-node-"));
    bundle = join(dir, "shoal.mjs");
    const built = await run(bin("esbuild"), [
      "src/cli/main.ts",
      "--bundle",
      "--platform=node",
      "--format=esm",
      "--target=node20",
      `--outfile=${bundle}`,
      "--log-level=warning",
    ]);
    assert.equal(built.code, 0, built.out);
  });

  after(async () => {
    await Promise.all(procs.map((p) => p.stop("SIGKILL")));
    rmSync(dir, { recursive: true, force: true });
  });

  test("Node joins Deno; both see two alive; Node leaves on SIGTERM", {
    timeout: 90_000,
  }, async () => {
    const version = await run("node", ["--version"]);
    assert.match(version.out, /^v(\d+)/);
    assert.ok(Number(/^v(\d+)/.exec(version.out)![1]) >= 20);

    const deno = new AgentProcess("deno", "deno-1", [
      "--bind",
      "127.0.0.1:0",
      "--http",
      "127.0.0.1:0",
      ...FAST_TUNE,
    ]);
    procs.push(deno);
    const seed = `127.0.0.1:${await deno.udpPort()}`;
    const denoHttp = await deno.httpAddr();
    assert.match(deno.stderr, /\(udp: deno, tcp: deno-tcp\)/);

    const node = new CommandProcess("node-1", "node", [
      bundle,
      "agent",
      "--name",
      "node-1",
      "--bind",
      "127.0.0.1:0",
      "--join",
      seed,
      "--http",
      "127.0.0.1:0",
      "--meta",
      "runtime=node",
      ...FAST_TUNE,
    ]);
    procs.push(node);
    await node.udpPort();
    const nodeHttp = await node.httpAddr();
    assert.match(
      node.stderr,
      /\(udp: node, tcp: node-tcp\)/,
      "the node:dgram and node:net adapters",
    );

    const alive = async (http: string) => {
      const res = await fetch(`http://${http}/v1/members?status=alive`);
      const body = await res.json() as { members: { name: string; meta: unknown }[] };
      return body.members;
    };
    await eventually(
      async () => (await alive(denoHttp)).length === 2 ? true : undefined,
      30_000,
      "the Deno agent to see the Node agent",
    );
    const fromNode = await eventually(
      async () => {
        const m = await alive(nodeHttp);
        return m.length === 2 ? m : undefined;
      },
      30_000,
      "the Node agent to see the Deno agent",
    );
    assert.deepEqual(fromNode.map((m) => m.name), ["deno-1", "node-1"]);
    const seenByDeno = (await alive(denoHttp)).find((m) => m.name === "node-1");
    assert.deepEqual(seenByDeno?.meta, { runtime: "node" });

    // node:http on Node: malformed input is still a 4xx JSON error; metrics work.
    const bad = await fetch(`http://${nodeHttp}/v1/join`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{oops",
    });
    assert.equal(bad.status, 400);
    assert.match((await bad.json() as { error: string }).error, /not valid JSON/);
    const metrics = await (await fetch(`http://${nodeHttp}/metrics`)).text();
    assert.match(metrics, /^shoal_members\{state="alive"\} 2$/m);
    // The join's full-state exchange ran over TCP: node:net on one side, Deno.connect on the other.
    await eventually(
      async () => {
        const text = await (await fetch(`http://${nodeHttp}/metrics`)).text();
        return Number(/^shoal_push_pulls_total (\d+)$/m.exec(text)?.[1]) >= 1 ? true : undefined;
      },
      20_000,
      "a push/pull over node:net",
    );

    assert.equal(await node.stop("SIGTERM"), 0);
    await eventually(
      async () => {
        const res = await fetch(`http://${denoHttp}/v1/members/node-1`);
        return (await res.json() as { state: string }).state === "left" ? true : undefined;
      },
      20_000,
      "the Deno agent to see the Node agent left",
    );
  });

  test("Deno without --unstable-net falls back to node:dgram", { timeout: 60_000 }, async () => {
    const a = new AgentProcess("deno", "deno-2", ["--bind", "127.0.0.1:0", ...FAST_TUNE]);
    procs.push(a);
    const seed = `127.0.0.1:${await a.udpPort()}`;
    // --no-config: no "unstable": ["net"] from deno.json, as for `deno run jsr:@shoal/swim/cli`.
    const plain = new CommandProcess("deno-plain", bin("deno"), [
      "run",
      "-A",
      "--no-config",
      "src/cli/main.ts",
      "agent",
      "--name",
      "deno-plain",
      "--bind",
      "127.0.0.1:0",
      "--join",
      seed,
      "--json",
      ...FAST_TUNE,
    ]);
    procs.push(plain);
    await plain.waitFor(/\(udp: node, tcp: deno-tcp\)/);
    await plain.waitFor(/"type":"join","member":\{"name":"deno-2"/);
  });
});

/** Any command, with the helpers' output waiting and stopping. */
class CommandProcess extends ShoalProcess {
  constructor(name: string, cmd: string, args: string[]) {
    super("deno", name, [], {}, [cmd, args]);
  }
}
