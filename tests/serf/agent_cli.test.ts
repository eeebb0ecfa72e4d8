/**
 * `shoal agent --serf` and the serf commands, in process: two serf agents with the HTTP API,
 * `shoal event`, `shoal query` (filters, JSON) and `shoal members --tag` against them, and
 * the API's refusals.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { type Agent, startAgent } from "../../src/agent/agent.ts";
import { main } from "../../src/cli/main.ts";
import { parseDuration } from "../../src/cli/commands/query.ts";
import type { SerfUserEvent } from "../../src/serf/mod.ts";
import { freePort, until } from "./_serf_agent.ts";

const TUNE = { probeInterval: 200, probeTimeout: 100, gossipInterval: 50, pushPullInterval: 2000 };
const agents: Agent[] = [];
after(async () => {
  for (const a of agents) await a.shutdown();
});

/** Run the CLI in process; its exit status and what it printed. */
async function cli(args: string[]): Promise<{ status: number; out: string; err: string }> {
  const log = console.log, error = console.error;
  let out = "", err = "";
  console.log = (...a: unknown[]) => (out += a.join(" ") + "\n");
  console.error = (...a: unknown[]) => (err += a.join(" ") + "\n");
  try {
    return { status: await main(args), out, err };
  } finally {
    console.log = log;
    console.error = error;
  }
}

describe("shoal agent --serf and its commands", { timeout: 60_000 }, () => {
  test("event, query, members --tag through the HTTP API", { timeout: 60_000 }, async () => {
    const [pa, ha, pb] = [await freePort(), await freePort(), await freePort()];
    const a = await startAgent({
      name: "cli-a",
      bind: `127.0.0.1:${pa}`,
      http: `127.0.0.1:${ha}`,
      tags: { role: "cache" },
      tune: TUNE,
      serf: true,
    });
    agents.push(a);
    const b = await startAgent({
      name: "cli-b",
      bind: `127.0.0.1:${pb}`,
      join: [`127.0.0.1:${pa}`],
      tags: { role: "web" },
      tune: TUNE,
      serf: true,
    });
    agents.push(b);
    const got: SerfUserEvent[] = [];
    b.serf!.onEvent((e) => {
      if (e.type === "user") got.push(e);
      else e.respond(`b:${new TextDecoder().decode(e.payload)}`);
    });
    await until(() => a.node.members("alive").length === 2, "the agents to meet");
    const http = `--http=127.0.0.1:${ha}`;

    const members = await cli(["members", http, "--tag", "role=web", "--json"]);
    assert.equal(members.status, 0, members.err);
    const listed = JSON.parse(members.out).members;
    assert.deepEqual(listed.map((m: { name: string; meta: unknown }) => [m.name, m.meta]), [
      ["cli-b", { role: "web" }],
    ]);

    const ev = await cli(["event", http, "purge", "/x"]);
    assert.equal(ev.status, 0, ev.err);
    await until(() => got.some((e) => e.name === "purge"), "the event at cli-b");
    assert.equal(new TextDecoder().decode(got[0].payload), "/x");

    const q = await cli(["query", http, "--timeout", "800ms", "--json", "who", "k"]);
    assert.equal(q.status, 0, q.err);
    const answers = JSON.parse(q.out);
    assert.deepEqual([...answers.acks].sort(), ["cli-a", "cli-b"]);
    assert.deepEqual(answers.responses, [{ from: "cli-b", payload: "b:k" }]);

    const filtered = await cli(["query", http, "--timeout", "500ms", "--node", "cli-a", "who"]);
    assert.equal(filtered.status, 0, filtered.err);
    assert.match(filtered.out, /ack from cli-a\n1 acks, 0 responses/);
    const byTag = await cli(["query", http, "--timeout=500ms", "--tag", "role=^web$", "who"]);
    assert.match(byTag.out, /ack from cli-b\nresponse from cli-b: b:\n1 acks, 1 responses/);

    assert.equal((await cli(["event", http, "x".repeat(600)])).status, 2);
    assert.equal((await cli(["query", http, "--timeout", "soon", "who"])).status, 2);
    assert.equal((await cli(["query", http, "--tag", "role", "who"])).status, 2);
    assert.equal(parseDuration("1.5s"), 1500);
  });

  test("an agent without --serf refuses event and query", { timeout: 30_000 }, async () => {
    const [p, h] = [await freePort(), await freePort()];
    const plain = await startAgent({
      name: "plain",
      bind: `127.0.0.1:${p}`,
      http: `127.0.0.1:${h}`,
    });
    agents.push(plain);
    const r = await cli(["event", `--http=127.0.0.1:${h}`, "purge"]);
    assert.equal(r.status, 1);
    assert.match(r.err, /not a serf member/);
  });
});
