/**
 * Lifeguard on real UDP: one member's event loop is blocked for 3 s. It is suspected, refutes
 * once it runs again, and nobody declares it dead.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createNode, runtimeName, type ShoalNode } from "../../mod.ts";
import { waitFor } from "./helpers.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const nodes: ShoalNode[] = [];
after(async () => {
  await Promise.all(nodes.map((n) => n.close()));
});

// Probe twice a second; suspicion lasts at least 3 s (6 × 500 ms) even when fully confirmed.
const config = { probeInterval: 500, probeTimeout: 200, gossipInterval: 100, suspicionMult: 6 };

test(
  `${runtimeName()}: a member stalled for 3 s is suspected, refutes, and is never declared dead`,
  {
    timeout: 60_000,
  },
  async () => {
    for (let i = 0; i < 4; i++) {
      const seeds = nodes.length ? [`127.0.0.1:${nodes[0].address.port}`] : [];
      nodes.push(await createNode({ name: `s${i}`, bind: "127.0.0.1:0", seeds, config }));
    }
    const rt = runtimeName() === "bun" ? "bun" : "deno";
    const fixture = "tests/node/fixtures/blockable.ts";
    const args = [fixture, "slow", `127.0.0.1:${nodes[0].address.port}`, JSON.stringify(config)];
    const child = spawn(
      `${root}node_modules/.bin/${rt}`,
      rt === "deno" ? ["run", "-A", ...args] : args,
      {
        cwd: root,
        stdio: ["pipe", "pipe", "inherit"],
      },
    );
    let out = "";
    child.stdout.on("data", (c) => (out += String(c)));
    try {
      await waitFor(() => out.includes('"port"'), 20_000, "the child member to start");
      const startInc = JSON.parse(out.split("\n")[0]).incarnation as number;
      await waitFor(
        () => nodes.every((n) => n.member("slow")?.state === "alive"),
        10_000,
        "the child member to join",
      );
      const seen: string[] = [];
      for (const n of nodes) {
        n.onEvent((e) => {
          if (e.member.name === "slow") seen.push(`${n.name}:${e.type}`);
        });
      }
      child.stdin.write("block 3000\n");
      await waitFor(() => out.includes("unblocked"), 10_000, "the stall to end");
      await waitFor(
        () => nodes.every((n) => (n.member("slow")?.incarnation ?? 0) > startInc),
        10_000,
        "the refutation to reach everyone",
      );
      await new Promise((r) => setTimeout(r, 3000));
      assert.ok(seen.some((s) => s.endsWith(":suspect")), `never suspected: ${seen}`);
      assert.ok(!seen.some((s) => s.endsWith(":dead")), `declared dead: ${seen}`);
      for (const n of nodes) assert.equal(n.member("slow")?.state, "alive");
    } finally {
      child.stdin.write("quit\n");
      await new Promise((r) => child.exitCode !== null ? r(null) : child.on("exit", r));
    }
  },
);
