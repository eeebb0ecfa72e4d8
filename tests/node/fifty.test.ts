/**
 * 50 members in one process on real UDP (the npm incumbent floods itself and flaps at this
 * scale). Converge, then 30 s with no suspicion at all.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { createNode, runtimeName, type ShoalNode } from "../../mod.ts";
import { allSeeAlive, waitFor } from "./helpers.ts";

const nodes: ShoalNode[] = [];
after(async () => {
  await Promise.all(nodes.map((n) => n.close()));
});

test(`50 nodes in one ${runtimeName()} process: converge, then no false suspicion for 30 s`, {
  timeout: 90_000,
}, async () => {
  const config = { gossipInterval: 200, probeInterval: 1000, probeTimeout: 500 };
  // A label of its own: the view must hold exactly these 50, whatever else on this host may
  // still send to a port one of them reuses.
  const label = `fifty-${crypto.randomUUID()}`;
  const first = await createNode({ name: "m0", bind: "127.0.0.1:0", config, label });
  nodes.push(first);
  const seed = `127.0.0.1:${first.address.port}`;
  for (let i = 1; i < 50; i++) {
    nodes.push(
      await createNode({ name: `m${i}`, bind: "127.0.0.1:0", seeds: [seed], config, label }),
    );
  }
  const names = nodes.map((n) => n.name);
  await waitFor(() => allSeeAlive(nodes, names), 20_000, "50 nodes to converge").catch((err) => {
    // Who does not see whom alive, and how, so that a failure can be read.
    const gaps = nodes.flatMap((n) => {
      const missing = names.filter((x) => n.member(x)?.state !== "alive");
      return missing.length
        ? [
          `${n.name} (${n.stats().core.joinRetries} join retries) ↛ ${
            missing.map((x) => `${x}:${n.member(x)?.state ?? "unknown"}`).join(" ")
          }`,
        ]
        : [];
    });
    throw new Error(`${(err as Error).message}\n${gaps.join("\n")}`);
  });

  const bad: string[] = [];
  for (const n of nodes) {
    n.onEvent((e) => {
      if (e.type === "suspect" || e.type === "dead") {
        bad.push(`${n.name}: ${e.type} ${e.member.name}`);
      }
    });
  }
  const probesBefore = nodes.reduce((s, n) => s + n.stats().core.probes, 0);
  await new Promise((r) => setTimeout(r, 30_000));
  const probes = nodes.reduce((s, n) => s + n.stats().core.probes, 0) - probesBefore;
  assert.deepEqual(bad, []);
  assert.ok(allSeeAlive(nodes, names));
  // The detector was really running: about one probe per node per second.
  assert.ok(probes > 50 * 20, `only ${probes} probes in 30 s`);
  assert.equal(nodes.reduce((s, n) => s + n.stats().internalErrors, 0), 0);
});
