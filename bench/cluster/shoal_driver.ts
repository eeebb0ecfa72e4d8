/**
 * Cluster-benchmark driver for shoal: `--nodes N` shoal nodes on loopback UDP (and TCP for the
 * join's push/pull) in this one process, every one joining the first. Runs under Deno
 * (`deno run -A bench/cluster/shoal_driver.ts --nodes 50`) and Bun (`bun … --nodes 50`).
 *
 * It speaks the drivers' common line protocol (see bench/cluster/run.ts), JSON on stdout:
 *
 *   {"event":"converged","ms":T,"minSeen":K,"joinMs":J}   every node sees all N, T ms after the
 *                                              last node started (null: timed out)
 *   {"event":"stats","packets":P,"bytes":B,"falseDead":F,"falseSuspect":S,"falseDeadMembers":M}
 *   {"event":"detected","victim":V,"firstSuspectMs":S,"firstDeadMs":D,"allDeadMs":A,"deadMs":[…]}
 *
 * and reads commands on stdin: `stats-begin` (answers `{"event":"ok","falseDeadBefore":F,…}`,
 * the false deads since the start), `stats-end`, `kill INDEX`, `quit`.
 *
 * @module
 */
import process from "node:process";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import type { MembershipEvent } from "../../src/core/effects.ts";
import { createNode, type ShoalNode } from "../../src/node/node.ts";
import { SHOAL_FAST } from "./timing.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    nodes: { type: "string", default: "10" },
    "converge-timeout": { type: "string", default: "90" },
    "join-gap": { type: "string", default: "0" },
    // memberlist's LAN timing (probe 1 s, timeout 500 ms, gossip 200 ms) instead of TIMING.
    lan: { type: "boolean", default: false },
    // The LAN preset as users get it (push/pull and re-announce on), for bench/loss_detection.ts.
    "lan-defaults": { type: "boolean", default: false },
  },
});
const n = Number(values.nodes);
/** Milliseconds between starting two nodes (0: as fast as they bind). */
const joinGap = Number(values["join-gap"]);
const emit = (o: Record<string, unknown>) => console.log(JSON.stringify(o));

// Periodic anti-entropy off, as memberlist's push/pull in this benchmark.
const config = values["lan-defaults"]
  ? {}
  : values.lan
  ? { pushPullInterval: 0, reannounceInterval: 0 }
  : SHOAL_FAST;

const killed = new Set<string>();
/** Per node: members it holds as not dead/left (itself included). */
const seen: number[] = [];
let falseDead = 0, falseSuspect = 0;
/** Live members declared dead by someone since the last `stats-begin`. */
const falseDeadMembers = new Set<string>();
/** The detection being timed, if any. */
let watch:
  | {
    victim: string;
    t0: number;
    survivors: number;
    dead: Map<string, number>;
    firstSuspectMs?: number;
    firstDeadMs?: number;
    allDeadMs?: number;
    done: () => void;
  }
  | undefined;

function onEvent(observer: string, index: number, ev: MembershipEvent): void {
  const about = ev.member.name;
  if (ev.type === "join") seen[index]++;
  else if (ev.type === "dead" || ev.type === "leave") seen[index]--;
  if (killed.has(about)) {
    const w = watch;
    if (!w || w.victim !== about || killed.has(observer)) return;
    const at = performance.now() - w.t0;
    if (ev.type === "suspect") w.firstSuspectMs ??= at;
    if (ev.type === "dead") {
      w.firstSuspectMs ??= at;
      w.firstDeadMs ??= at;
      if (!w.dead.has(observer)) w.dead.set(observer, at);
      if (w.dead.size === w.survivors) {
        w.allDeadMs = at;
        w.done();
      }
    }
    return;
  }
  if (ev.type === "dead") {
    falseDead++;
    falseDeadMembers.add(about);
  }
  if (ev.type === "suspect") falseSuspect++;
}

const start = performance.now();
const nodes: ShoalNode[] = [];
for (let i = 0; i < n; i++) {
  const seeds = i === 0 ? [] : [`127.0.0.1:${nodes[0].address.port}`];
  seen.push(1);
  const name = `shoal-${i}`;
  const node = await createNode({ name, bind: "127.0.0.1:0", seeds, config });
  node.onEvent((ev) => onEvent(name, i, ev));
  nodes.push(node);
  if (joinGap > 0) await new Promise((r) => setTimeout(r, joinGap));
}
// Convergence is timed from the last node's start (joining itself is asynchronous).
const joinedAt = performance.now();
const limit = start + Number(values["converge-timeout"]) * 1000;
let minSeen = 0;
for (;;) {
  minSeen = Math.min(...seen);
  if (minSeen === n || performance.now() > limit) break;
  await new Promise((r) => setTimeout(r, 20));
}
emit({
  event: "converged",
  ms: minSeen === n ? performance.now() - joinedAt : null,
  minSeen,
  joinMs: joinedAt - start,
});

let base = { packets: 0, bytes: 0 };
const sent = () => {
  let packets = 0, bytes = 0;
  for (const node of nodes) {
    const t = node.stats().transport;
    packets += t.packetsOut;
    bytes += t.bytesOut;
  }
  return { packets, bytes };
};

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const [cmd, arg] = line.trim().split(/\s+/);
  if (cmd === "stats-begin") {
    base = sent();
    // What happened before (the join): false deads and suspicions since the first start.
    emit({ event: "ok", falseDeadBefore: falseDead, falseSuspectBefore: falseSuspect });
    falseDead = falseSuspect = 0;
    falseDeadMembers.clear();
  } else if (cmd === "stats-end") {
    const now = sent();
    emit({
      event: "stats",
      packets: now.packets - base.packets,
      bytes: now.bytes - base.bytes,
      falseDead,
      falseSuspect,
      falseDeadMembers: falseDeadMembers.size,
    });
  } else if (cmd === "kill") {
    const victim = nodes[Number(arg)];
    killed.add(victim.name);
    // Survivors that hold the victim as a live member (all of them, once converged).
    const survivors = nodes.filter((x) => {
      const m = x.member(victim.name);
      return !killed.has(x.name) && m !== undefined && m.state !== "dead" && m.state !== "left";
    }).length;
    const finished = new Promise<void>((resolve) => {
      watch = {
        victim: victim.name,
        t0: performance.now(),
        survivors,
        dead: new Map(),
        done: resolve,
      };
    });
    await victim.close(); // no goodbye: the others must detect it
    await Promise.race([finished, new Promise((r) => setTimeout(r, 30_000))]);
    const w = watch!;
    watch = undefined;
    emit({
      event: "detected",
      victim: victim.name,
      firstSuspectMs: w.firstSuspectMs ?? null,
      firstDeadMs: w.firstDeadMs ?? null,
      allDeadMs: w.allDeadMs ?? null,
      deadMs: [...w.dead.values()].sort((a, b) => a - b),
    });
  } else if (cmd === "quit") {
    break;
  }
}
await Promise.all(nodes.map((x) => x.close()));
process.exit(0);
