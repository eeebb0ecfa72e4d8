/**
 * `shoal agent --key/--label`: agents sharing a key and label form one cluster; an agent
 * with another key, or without the label, is kept out, and its packets are counted as
 * refused by kind.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { AgentProcess, eventually, FAST_TUNE, runCli } from "./helpers.ts";

describe("agents with --key and --label", { timeout: 90_000 }, () => {
  const agents: AgentProcess[] = [];
  after(async () => {
    await Promise.all(agents.map((a) => a.stop("SIGKILL")));
  });

  test("same key and label: one cluster; another key: kept out", { timeout: 60_000 }, async () => {
    const k = (await runCli("bun", ["keygen"])).stdout.trim();
    const other = (await runCli("deno", ["keygen"])).stdout.trim();
    const common = ["--bind", "127.0.0.1:0", "--http", "127.0.0.1:0", ...FAST_TUNE];
    const a = new AgentProcess("deno", "sec-a", [...common, "--key", k, "--label", "blue"]);
    agents.push(a);
    const seed = `127.0.0.1:${await a.udpPort()}`;
    const http = await a.httpAddr();
    // b holds k (primary) and another key; c has only the other key; e has k but no label.
    const b = new AgentProcess("bun", "sec-b", [
      ...common,
      "--key",
      k,
      "--key",
      other,
      "--label",
      "blue",
      "--join",
      seed,
    ]);
    const c = new AgentProcess("deno", "sec-c", [
      ...common,
      "--key",
      other,
      "--label",
      "blue",
      "--join",
      seed,
    ]);
    const e = new AgentProcess("bun", "sec-e", [...common, "--key", k, "--join", seed]);
    agents.push(b, c, e);
    const names = await eventually(
      async () => {
        const r = await runCli("deno", ["members", "--http", http, "--json"]);
        const alive = (JSON.parse(r.stdout).members as { name: string; state: string }[])
          .filter((m) => m.state === "alive").map((m) => m.name);
        return alive.includes("sec-b") ? alive : undefined;
      },
      30_000,
      "sec-a to see sec-b",
    );
    await c.udpPort();
    await e.udpPort();
    assert.ok(!names.includes("sec-c"), "a member with another key must not get in");
    assert.ok(!names.includes("sec-e"), "a member without the label must not get in");
    // c and e keep retrying their seed, so their packets reach a and are refused, by kind.
    const count = (metrics: string, kind: string) =>
      Number(new RegExp(`shoal_decode_errors_total\\{kind="${kind}"\\} (\\d+)`).exec(metrics)?.[1]);
    await eventually(
      async () => {
        const metrics = await (await fetch(`http://${http}/metrics`)).text();
        return count(metrics, "decrypt-failed") > 0 && count(metrics, "bad-label") > 0
          ? true
          : undefined;
      },
      20_000,
      "refused packets counted by kind",
    );
  });
});
