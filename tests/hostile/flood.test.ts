/**
 * Fake-member flood against a live 4-member cluster over real UDP on loopback: alives for
 * invented members from unprivileged sockets. The table stays within `maxMembers` and each
 * sender's budget of new members, refusals are counted, a real member killed afterwards is
 * still detected, and the attacked node still answers pings (docs/security.md).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import type { ShoalNode } from "../../mod.ts";
import type { MembershipEvent } from "../../src/core/effects.ts";
import { allSeeAlive, FAST, startCluster, waitFor } from "../node/helpers.ts";
import { aliveFlood, Attacker, flood } from "./_attacker.ts";

const T = { timeout: 180_000 };
const MIB = 1024 * 1024;

const at = (n: ShoalNode) => ({ host: "127.0.0.1", port: n.address.port });
const inPackets = (n: ShoalNode) => () => n.stats().core.packetsIn;

test(
  "flood with a small maxMembers: the table stays bounded, a killed member is detected",
  T,
  async () => {
    const maxMembers = 32;
    const config = { ...FAST, maxMembers };
    const nodes: ShoalNode[] = [];
    const attackers: Attacker[] = [];
    try {
      nodes.push(...await startCluster(4, "fs", { config }));
      const [a, , , d] = nodes;
      const names = nodes.map((n) => n.name);
      await waitFor(() => allSeeAlive(nodes, names), 10_000, "the cluster to form");

      // 600 datagrams of 22 alives from one socket, then 100 × 22 from each of three more ports.
      const main = await Attacker.bind();
      attackers.push(main);
      await flood(main, at(a), aliveFlood(600, 22, "fake"), { received: inPackets(a) });
      for (let p = 0; p < 3; p++) {
        const extra = await Attacker.bind();
        attackers.push(extra);
        await flood(extra, at(a), aliveFlood(100, 22, `port${p}`), { received: inPackets(a) });
      }
      for (const n of nodes) {
        assert.ok(n.members().length <= maxMembers, `${n.name}: ${n.members().length} members`);
      }
      const refused = a.stats().core.membersRefused;
      assert.ok((refused["table-full"] ?? 0) > 10_000, JSON.stringify(refused));
      assert.ok(await main.pingForAck(at(a), a.name, 77), "the attacked node answers a ping");

      // Kill d (no leave): the attacked node must suspect it, then declare it dead.
      const seen: { type: string; at: number }[] = [];
      const off = a.onEvent((e: MembershipEvent) => {
        if (e.member.name === d.name) seen.push({ type: e.type, at: Date.now() });
      });
      const killed = Date.now();
      // Probes of fakes fail, so the flooded node's health score rises and Lifeguard stretches
      // its probe period by (score + 1); the bound allows half its ceiling (awarenessMaxMultiplier
      // 8). The score at the kill is printed.
      const score = a.healthScore;
      const stretch = 4;
      await d.close();
      // A full table of maxMembers is probed round-robin, alternating with suspects (fakes
      // suspected elsewhere): two cycles and the probe timeout, stretched by our health; then
      // the longest suspicion (suspicionMaxTimeoutMult · suspicionMult · log10(n) · probeInterval).
      const cycle = stretch * (2 * maxMembers * FAST.probeInterval! + FAST.probeTimeout!);
      const suspicionMax = 6 * FAST.suspicionMult! * Math.log10(maxMembers) * FAST.probeInterval!;
      const margin = 5000;
      await waitFor(
        () => a.member(d.name)?.state === "dead" || a.member(d.name) === undefined,
        cycle + suspicionMax + 2 * margin,
        "the killed member to be declared dead",
      );
      off();
      // The death may reach `a` as a rumour before its own suspicion (the dead rumour replaces
      // a queued suspect about the same member), so a suspect event is not required.
      const suspect = seen.find((e) => e.type === "suspect");
      const deadAt = seen.find((e) => e.type === "dead");
      assert.ok(deadAt, JSON.stringify(seen));
      // One bound on the whole detection: how it splits between the wait for a probe (a table
      // full of fakes stretches the cycle) and the suspicion varies with the machine's load.
      assert.ok(
        deadAt.at - killed <= cycle + suspicionMax + 2 * margin,
        `dead ${deadAt.at - killed} ms after the kill`,
      );
      console.log(
        `flood(maxMembers ${maxMembers}): table ${a.members().length}, refused ` +
          `${JSON.stringify(refused)}; health score ${score} at the kill; killed member ` +
          (suspect ? `suspect after ${suspect.at - killed} ms, ` : "not suspected first, ") +
          `dead ${deadAt.at - killed} ms after the kill`,
      );
      assert.ok(await main.pingForAck(at(a), a.name, 78), "still answering pings");
      assert.equal(a.stats().internalErrors, 0);
    } finally {
      await Promise.all(attackers.map((x) => x.close()));
      await Promise.all(nodes.map((n) => n.close()));
    }
  },
);

test(
  "flood at the default limits: the per-sender budget bites, memory stays bounded",
  T,
  async () => {
    const nodes: ShoalNode[] = [];
    const attackers: Attacker[] = [];
    try {
      nodes.push(...await startCluster(4, "fd"));
      const [a] = nodes;
      const names = nodes.map((n) => n.name);
      await waitFor(() => allSeeAlive(nodes, names), 10_000, "the cluster to form");
      const heapBefore = process.memoryUsage().heapUsed;
      const main = await Attacker.bind();
      attackers.push(main);
      const { ms } = await flood(main, at(a), aliveFlood(600, 22, "fake"), {
        received: inPackets(a),
      });
      // lanConfig: a burst of 4096 new members per sender, then 512 a second.
      const budget = 4096 + 512 * Math.ceil(ms / 1000 + 1);
      const size = a.members().length;
      const refused = a.stats().core.membersRefused;
      assert.ok(size - 4 <= budget, `${size} members after ${ms} ms (budget ${budget})`);
      assert.ok(size - 4 < 13_200, "some fakes refused");
      assert.ok((refused.rate ?? 0) >= 13_200 - budget, JSON.stringify(refused));
      assert.ok(await main.pingForAck(at(a), a.name, 79), "the attacked node answers a ping");
      // Let the cluster gossip and probe the fakes for a while before measuring.
      await new Promise((r) => setTimeout(r, 3000));
      assert.ok(await main.pingForAck(at(a), a.name, 80), "still answering pings");
      const grown = (process.memoryUsage().heapUsed - heapBefore) / MIB;
      console.log(
        `flood(defaults): 13200 alives in ${ms} ms, table ${size}, refused ${
          JSON.stringify(refused)
        }, ` +
          `heap +${grown.toFixed(1)} MiB, queue ${a.stats().queueDepth}`,
      );
      assert.ok(grown < 64, `heap grew ${grown.toFixed(1)} MiB`);
      assert.equal(a.stats().internalErrors, 0);
    } finally {
      await Promise.all(attackers.map((x) => x.close()));
      await Promise.all(nodes.map((n) => n.close()));
    }
  },
);
