/**
 * Real UDP on loopback, with the adapter of whichever runtime runs the test
 * (Deno.listenDatagram under `deno test`, Bun.udpSocket under `bun test`).
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { runtimeName, type ShoalNode } from "../../mod.ts";
import { allSeeAlive, startCluster, waitFor } from "./helpers.ts";

const open: ShoalNode[] = [];
after(async () => {
  await Promise.all(open.map((n) => n.close()));
});

const LONG = { timeout: 60_000 };

describe(`real UDP cluster (${runtimeName()})`, LONG, () => {
  test("5 nodes converge, detect a kill, see a leave and a metadata update", LONG, async () => {
    const nodes = await startCluster(5, "u");
    open.push(...nodes);
    const names = nodes.map((n) => n.name);
    await waitFor(() => allSeeAlive(nodes, names), 10_000, "5 nodes to converge");

    // Metadata update reaches everyone.
    const events: string[] = [];
    nodes[1].onEvent((e) => events.push(`${e.type}:${e.member.name}`));
    await nodes[2].updateMeta(new TextEncoder().encode("role=db"));
    await waitFor(
      () => nodes.every((n) => new TextDecoder().decode(n.member("u2")?.meta) === "role=db"),
      5_000,
      "metadata update",
    );
    assert.ok(events.includes("update:u2"));

    // Kill u4 (no leave): everyone else declares it dead.
    await nodes[4].close();
    const survivors = nodes.slice(0, 4);
    await waitFor(
      () => survivors.every((n) => n.member("u4")?.state === "dead"),
      10_000,
      "u4 declared dead",
    );
    assert.ok(events.includes("dead:u4"));

    // u3 leaves gracefully: seen as left, never dead.
    await nodes[3].leave();
    await nodes[3].close();
    const rest = nodes.slice(0, 3);
    await waitFor(() => rest.every((n) => n.member("u3")?.state === "left"), 5_000, "u3 left");
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(rest.every((n) => n.member("u3")?.state === "left"));
    assert.ok(!events.includes("dead:u3"));
    for (const n of rest) assert.equal(n.stats().internalErrors, 0);
  });

  test("events() streams join events and ends at close", LONG, async () => {
    const nodes = await startCluster(1, "e");
    open.push(...nodes);
    const seen: string[] = [];
    const done = (async () => {
      for await (const ev of nodes[0].events()) seen.push(`${ev.type}:${ev.member.name}`);
    })();
    const more = await startCluster(2, "f", {
      seeds: [`127.0.0.1:${nodes[0].address.port}`],
    });
    open.push(...more);
    await waitFor(() => seen.includes("join:f0") && seen.includes("join:f1"), 5_000, "joins");
    await nodes[0].close();
    await done; // the iterator ends when the node closes
  });
});
