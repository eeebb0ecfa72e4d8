/**
 * Forged identity over real UDP on loopback: a `dead` at incarnation 2^32−1 about a live
 * member, and the hijack `[dead(X), alive(X at the attacker)]` in one datagram. Neither may
 * kill a live member or move its address (docs/security.md).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ShoalNode } from "../../mod.ts";
import { allSeeAlive, FAST, startCluster, waitFor } from "../node/helpers.ts";
import { alive, Attacker, dead, packet, sleep } from "./_attacker.ts";

const T = { timeout: 60_000 };
const MAX_INCARNATION = 0xffff_ffff;

const at = (n: ShoalNode) => ({ host: "127.0.0.1", port: n.address.port });

test("a dead at incarnation 2^32−1 about a live member changes nothing", T, async () => {
  const nodes: ShoalNode[] = [];
  let attacker: Attacker | undefined;
  try {
    nodes.push(...await startCluster(4, "iw"));
    const [a, x, c] = nodes;
    const names = nodes.map((n) => n.name);
    await waitFor(() => allSeeAlive(nodes, names), 10_000, "the cluster");
    attacker = await Attacker.bind();
    const held = x.localMember().incarnation;
    // To a third node, and to the accused itself.
    await attacker.send(at(a), packet([dead(x.name, MAX_INCARNATION)]));
    await attacker.send(at(c), packet([dead(x.name, MAX_INCARNATION)]));
    await attacker.send(at(x), packet([dead(x.name, MAX_INCARNATION)]));
    await waitFor(() => a.stats().core.implausibleClaims > 0, 3000, "the claim refused");
    await sleep(3000);
    for (const n of nodes) {
      const m = n.member(x.name);
      assert.equal(m?.state, "alive", `${n.name} holds ${x.name} as ${m?.state}`);
      assert.ok(m!.incarnation < held + 2 ** 20, `${n.name}: incarnation ${m!.incarnation}`);
    }
    assert.ok(x.localMember().incarnation < MAX_INCARNATION, "no saturated incarnation");
    console.log(
      `wrap: ${x.name} alive everywhere at incarnation ${x.localMember().incarnation} ` +
        `(held ${held}); implausible claims ${nodes.map((n) => n.stats().core.implausibleClaims)}`,
    );
  } finally {
    await attacker?.close();
    await Promise.all(nodes.map((n) => n.close()));
  }
});

test("hijack [dead(X), alive(X at attacker)]: X refutes, its address stays", T, async () => {
  const nodes: ShoalNode[] = [];
  let attacker: Attacker | undefined;
  // A short reclaim time, so the waits below outlast it.
  const reclaim = 2000;
  try {
    nodes.push(
      ...await startCluster(4, "hj", { config: { ...FAST, deadNodeReclaimTime: reclaim } }),
    );
    const [a, x, c] = nodes;
    const names = nodes.map((n) => n.name);
    await waitFor(() => allSeeAlive(nodes, names), 10_000, "the cluster");
    attacker = await Attacker.bind();
    const realPort = x.address.port;
    const refuted = x.stats().core.refutations;
    // Ten rounds, each outbidding X's latest incarnation (as gossip would tell an attacker).
    for (let round = 0; round < 10; round++) {
      const inc = a.member(x.name)!.incarnation;
      await attacker.send(
        at(a),
        packet([
          dead(x.name, inc + 1),
          alive(x.name, attacker.address.host, attacker.address.port, inc + 2),
        ]),
      );
      await sleep(500);
    }
    await sleep(reclaim + 1500);
    for (const n of [a, c]) {
      const m = n.member(x.name);
      assert.equal(m?.state, "alive", `${n.name}: ${JSON.stringify(m)}`);
      assert.equal(m!.port, realPort, `${n.name} moved ${x.name} to ${m!.address}:${m!.port}`);
    }
    assert.ok(x.stats().core.refutations > refuted, "X refuted");
    assert.equal(
      attacker.messages().filter((m) => m.type === "ping" && m.node === x.name).length,
      0,
      "nobody probes X at the attacker",
    );
    console.log(
      `hijack: ${x.name} at port ${a.member(x.name)!.port} (real ${realPort}), incarnation ` +
        `${x.localMember().incarnation}, refutations ${x.stats().core.refutations - refuted}, ` +
        `conflicts at ${a.name} ${a.stats().core.conflicts}`,
    );
  } finally {
    await attacker?.close();
    await Promise.all(nodes.map((n) => n.close()));
  }
});

// The ladder: deaths each far above X's incarnation, sent straight to X. An accusation may rise
// at most 256 above what is held (MAX_ACCUSATION_JUMP), so 5,000 of them cannot walk X to the
// end of the range, and the others keep accepting X's alives.

test(
  "incarnation ladder: deaths 2^20 apart do not saturate X",
  T,
  async () => {
    const nodes: ShoalNode[] = [];
    let attacker: Attacker | undefined;
    try {
      nodes.push(...await startCluster(4, "il"));
      const [a, x] = nodes;
      await waitFor(() => allSeeAlive(nodes, nodes.map((n) => n.name)), 10_000, "the cluster");
      attacker = await Attacker.bind();
      const held = x.localMember().incarnation;
      let inc = held;
      for (let sent = 0; inc < MAX_INCARNATION && sent < 5000; sent++) {
        inc = Math.min(inc + 2 ** 20, MAX_INCARNATION);
        await attacker.send(at(x), packet([dead(x.name, inc)]));
        if (sent % 16 === 15) await sleep(2);
      }
      await sleep(500);
      const forged = { type: "suspect" as const, incarnation: held, node: x.name, from: "mallory" };
      await attacker.send(at(a), packet([forged]));
      await sleep(8000);
      for (const n of nodes) {
        const m = n.member(x.name);
        assert.equal(m?.state, "alive", `${n.name} holds ${x.name} as ${JSON.stringify(m)}`);
      }
      assert.ok(x.localMember().incarnation < held + 2 ** 24, `${x.localMember().incarnation}`);
    } finally {
      await attacker?.close();
      await Promise.all(nodes.map((n) => n.close()));
    }
  },
);
