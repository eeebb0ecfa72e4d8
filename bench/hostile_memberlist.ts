/**
 * The hostile-network attacks of tests/hostile/ run against real memberlist 0.2.2 nodes (the
 * Go interop peer), and the fake-member flood's detection cost against shoal at its default
 * limits, on loopback: figures for docs/security.md. Not run in CI.
 *
 *   deno run -A bench/hostile_memberlist.ts
 *
 * @module
 */
import process from "node:process";
import { createNode, type ShoalNode } from "../mod.ts";
import { FAST } from "../tests/node/helpers.ts";
import { GoPeer, goPeerBinary, stopAllGoPeers } from "../tests/interop/go_peer.ts";
import {
  aliveFlood,
  Attacker,
  dead,
  flood,
  packet,
  ping,
  sleep,
} from "../tests/hostile/_attacker.ts";

const TIMING = { probeInterval: 200, probeTimeout: 100, gossipInterval: 50, suspicionMult: 2 };
const MAX_INCARNATION = 0xffff_ffff;
const REQUESTS = 40;

async function goCluster(binary: string, prefix: string): Promise<GoPeer[]> {
  const first = await GoPeer.start(binary, { name: `${prefix}0`, ...TIMING });
  const rest = [];
  for (let i = 1; i < 3; i++) {
    rest.push(
      await GoPeer.start(binary, { name: `${prefix}${i}`, join: [first.hostPort], ...TIMING }),
    );
  }
  const peers = [first, ...rest];
  for (const p of peers) {
    await p.waitForMembers((ms) => ms.filter((m) => m.state === "alive").length === 3, "join");
  }
  return peers;
}

/** Bytes a victim on 127.0.0.2 receives for REQUESTS pings naming it as their source. */
async function reflect(attacker: Attacker, to: { host: string; port: number }, node: string) {
  const victim = await Attacker.bind("127.0.0.2");
  try {
    const bytes = packet([ping(1, node, { ...victim.address, name: "mallory" })]);
    for (let i = 0; i < REQUESTS; i++) {
      await attacker.send(to, bytes);
      await sleep(25);
    }
    await sleep(1500);
    const sent = REQUESTS * bytes.length;
    return `${bytes.length} B ×${REQUESTS} → victim ${victim.packetsIn} datagrams, ` +
      `${victim.bytesIn} B (×${(victim.bytesIn / sent).toFixed(2)})`;
  } finally {
    await victim.close();
  }
}

/** Poll `pred` every 100 ms for up to `ms`; the time it took, or undefined. */
async function timeUntil(pred: () => Promise<boolean> | boolean, ms: number) {
  const start = Date.now();
  while (Date.now() - start < ms) {
    if (await pred()) return Date.now() - start;
    await sleep(100);
  }
  return undefined;
}

async function memberlist(binary: string): Promise<void> {
  const attacker = await Attacker.bind();
  try {
    // Fresh cluster: reflection and the incarnation wrap.
    const [a, b, c] = await goCluster(binary, "gw");
    console.log(
      `memberlist reflection, announce (fresh): ${await reflect(attacker, a.address, "")}`,
    );
    console.log(
      `memberlist reflection, plain ping (fresh): ${await reflect(attacker, a.address, a.name)}`,
    );
    await attacker.send(a.address, packet([dead(b.name, MAX_INCARNATION)]));
    await sleep(5000);
    const views = await Promise.all([a, c].map(async (p) => {
      const m = (await p.members()).find((n) => n.name === b.name);
      return `${p.name}: ${m?.state}@${m?.incarnation}`;
    }));
    const own = (await b.members()).find((n) => n.name === b.name);
    console.log(
      `memberlist wrap: dead(${b.name}, 2^32−1) → ${views.join(", ")}; ` +
        `${b.name} itself at incarnation ${own?.incarnation}`,
    );
    await stopAllGoPeers();

    // Fresh cluster: the fake-member flood, then reflection with a full broadcast queue.
    const [fa, , fc] = await goCluster(binary, "gf");
    const { ms } = await flood(attacker, fa.address, aliveFlood(600, 22, "fake"), {
      batch: 4,
      pauseMs: 20,
    });
    // The peer prints a join event per fake: give it time, and retry the table read.
    await sleep(5000);
    let table: unknown[] = [];
    for (let i = 0; i < 5 && table.length === 0; i++) table = await fa.members().catch(() => []);
    const drops = fa.log.filter((l) => l.includes("handler queue full")).length;
    console.log(
      `memberlist flood: 13200 alives in ${ms} ms → table ${table.length}; ` +
        `"handler queue full" drops logged: ${drops}`,
    );
    const acked = await attacker.pingForAck(fa.address, fa.name, 4242, 5000);
    console.log(`memberlist flood: answers a ping afterwards: ${acked}`);
    console.log(
      `memberlist reflection, announce (after flood): ${await reflect(attacker, fa.address, "")}`,
    );
    await fc.kill();
    const killed = fc.name;
    const state = async () => (await fa.members()).find((n) => n.name === killed)?.state;
    const suspect = await timeUntil(async () => (await state()) !== "alive", 30_000);
    console.log(
      `memberlist flood: killed member ${
        suspect === undefined ? "not suspected within 30 s" : `suspected after ${suspect} ms`
      }`,
    );
  } finally {
    await attacker.close();
    await stopAllGoPeers();
  }
}

async function shoal(): Promise<void> {
  const nodes: ShoalNode[] = [];
  const attacker = await Attacker.bind();
  try {
    const first = await createNode({ name: "sd0", bind: "127.0.0.1:0", config: FAST });
    nodes.push(first);
    for (let i = 1; i < 4; i++) {
      nodes.push(
        await createNode({
          name: `sd${i}`,
          bind: "127.0.0.1:0",
          seeds: [`127.0.0.1:${first.address.port}`],
          config: FAST,
        }),
      );
    }
    await timeUntil(() => nodes.every((n) => n.members("alive").length === 4), 10_000);
    const to = { host: "127.0.0.1", port: first.address.port };
    const { ms } = await flood(attacker, to, aliveFlood(600, 22, "fake"), {
      received: () => first.stats().core.packetsIn,
    });
    console.log(
      `shoal flood (defaults, one socket): 13200 alives in ${ms} ms → table ${first.members().length}`,
    );
    const victim = nodes[3];
    await victim.close();
    const suspect = await timeUntil(() => first.member(victim.name)?.state !== "alive", 60_000);
    console.log(
      `shoal flood (defaults): killed member ${
        suspect === undefined ? "not suspected within 60 s" : `suspected after ${suspect} ms`
      }`,
    );
  } finally {
    await attacker.close();
    await Promise.all(nodes.map((n) => n.close()));
  }
}

const bin = await goPeerBinary();
if (bin.path) await memberlist(bin.path);
else console.log(`memberlist skipped: ${bin.skip}`);
await shoal();
process.exit(0);
