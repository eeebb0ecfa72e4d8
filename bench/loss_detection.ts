/**
 * Detection under loss, beside memberlist (issue 12): n members of one implementation in one
 * process, inside a network namespace of their own whose nftables input hook drops a share of
 * every UDP datagram and TCP segment. Every implementation runs at the same time in its own
 * namespace (`--sequential` runs them one after the other instead), at memberlist's LAN preset
 * as users get it (probe 1 s, timeout 500 ms, gossip 200 ms, push/pull 30 s).
 *
 *   deno run -A bench/loss_detection.ts [--impls memberlist,shoal-deno,shoal-bun] [--members 20]
 *       [--loss 20] [--kills 5] [--warm 30] [--gap 15] [--tail 20] [--runs 1] [--sequential]
 *       [--json FILE]
 *
 * Needs root, `ip` and `nft` (see /work/shared/reference/fault-injection.md) and the Go peer
 * (tests/interop/build_peer.sh, run when missing). Per implementation:
 *  1. start the members (each joins the first) and wait until every one sees all n;
 *  2. loss on; after `--warm` s, `--kills` times: kill a member (no goodbye; memberlist's
 *     `Shutdown`, shoal's `close`), time the first suspicion, the first death and the moment
 *     every survivor holds it dead, then wait `--gap` s; after the last kill `--tail` s more;
 *  3. loss off: the dead declarations of live members over the whole loss period (false
 *     deaths) and the share of packets actually dropped.
 *
 * The drivers are the cluster benchmark's (bench/cluster/shoal_driver.ts with `--lan-defaults`,
 * the Go peer's `-nodes N -preset lan`). `--runs R` repeats it all with fresh clusters and pools
 * the kills. Prints a table per kill and a summary; `--json` writes the raw results. Everything is bounded (`--max-minutes`, 20); namespaces and processes are
 * removed on exit, error and SIGINT/SIGTERM.
 *
 * @module
 */
import { type ChildProcess, execFileSync } from "node:child_process";
import { Driver } from "./cluster/driver.ts";
import { existsSync, writeFileSync } from "node:fs";
import os from "node:os";
import process from "node:process";
import { parseArgs } from "node:util";
import { Netns, netnsUnsupported } from "../tests/faults/_netns.ts";

const { values } = parseArgs({
  options: {
    impls: { type: "string", default: "memberlist,shoal-deno,shoal-bun" },
    members: { type: "string", default: "20" },
    loss: { type: "string", default: "20" },
    kills: { type: "string", default: "5" },
    warm: { type: "string", default: "30" },
    gap: { type: "string", default: "15" },
    tail: { type: "string", default: "20" },
    runs: { type: "string", default: "1" },
    sequential: { type: "boolean", default: false },
    "max-minutes": { type: "string", default: "20" },
    json: { type: "string" },
  },
});

/** The implementations this bench can run. */
type Impl = "memberlist" | "shoal-deno" | "shoal-bun";
const IMPLS: readonly Impl[] = ["memberlist", "shoal-deno", "shoal-bun"];
const LABEL: Record<Impl, string> = {
  memberlist: "memberlist 0.2.2",
  "shoal-deno": "shoal (Deno)",
  "shoal-bun": "shoal (Bun)",
};

const ROOT = new URL("../", import.meta.url).pathname;
const BIN = `${ROOT}node_modules/.bin/`;
const GO_PEER = `${ROOT}.cache/interop/peer`;
const n = Number(values.members);
const lossPct = Number(values.loss);
const kills = Number(values.kills);
const warmMs = Number(values.warm) * 1000;
const gapMs = Number(values.gap) * 1000;
const tailMs = Number(values.tail) * 1000;
const impls = values.impls.split(",").filter(Boolean) as Impl[];
for (const i of impls) if (!IMPLS.includes(i)) throw new Error(`unknown impl ${i}`);
if (!(n >= 3 && kills >= 1 && kills <= n - 2)) throw new Error("need members ≥ 3, 1 ≤ kills ≤ n−2");

const started = performance.now();
const log = (s: string) =>
  console.error(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${s}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One kill, in ms from the kill (null: not within the driver's 30 s). */
interface Kill {
  readonly victim: string;
  readonly firstSuspectMs: number | null;
  readonly firstDeadMs: number | null;
  readonly allDeadMs: number | null;
  /** When each survivor held the victim dead, sorted. */
  readonly deadMs: number[];
}

/** One implementation's run. */
interface Result {
  readonly impl: Impl;
  /** 1-based index of the run (`--runs`). */
  readonly run: number;
  readonly members: number;
  readonly lossPct: number;
  convergedMs: number | null;
  /** Share of UDP/TCP packets the rule dropped while loss was on, and how many were counted. */
  measuredLossPct: number | null;
  packets: number | null;
  lossSeconds: number | null;
  kills: Kill[];
  /** Dead declarations (events, all observers) of live members while loss was on. */
  falseDeaths: number | null;
  /** Distinct live members declared dead by someone while loss was on. */
  falseDeadMembers: number | null;
  error: string | null;
}

function command(impl: Impl): [string, string[]] {
  switch (impl) {
    case "memberlist":
      return [GO_PEER, ["-nodes", `${n}`, "-preset", "lan", "-converge-timeout", "90s"]];
    case "shoal-deno":
      return [`${BIN}deno`, [
        "run",
        "-A",
        `${ROOT}bench/cluster/shoal_driver.ts`,
        "--nodes",
        `${n}`,
        "--lan-defaults",
      ]];
    case "shoal-bun":
      return [`${BIN}bun`, [
        `${ROOT}bench/cluster/shoal_driver.ts`,
        "--nodes",
        `${n}`,
        "--lan-defaults",
      ]];
  }
}

const children = new Set<ChildProcess>();

/** A driver process inside a namespace, and its JSON lines. */
/** A driver in namespace `ns`, tracked in `children` while it runs. */
function nsDriver(ns: Netns, cmd: string, args: string[]): Driver {
  const d = new Driver("ip", ["netns", "exec", ns.name, cmd, ...args], ROOT);
  children.add(d.child);
  d.child.on("exit", () => children.delete(d.child));
  return d;
}

/** Run one implementation in a namespace of its own. */
async function runOne(impl: Impl, run: number): Promise<Result> {
  const r: Result = {
    impl,
    run,
    members: n,
    lossPct,
    convergedMs: null,
    measuredLossPct: null,
    packets: null,
    lossSeconds: null,
    kills: [],
    falseDeaths: null,
    falseDeadMembers: null,
    error: null,
  };
  const ns = Netns.create(`ld${IMPLS.indexOf(impl)}`);
  let d: Driver | undefined;
  try {
    const [cmd, args] = command(impl);
    d = nsDriver(ns, cmd, args);
    const conv = await d.next("converged", 0, 150_000);
    if (!conv) throw new Error(`no convergence report: ${d.stderr.slice(-10).join(" | ")}`);
    r.convergedMs = conv.ms as number | null;
    if (r.convergedMs === null) throw new Error(`did not converge (${JSON.stringify(conv)})`);
    log(`${impl}: converged in ${(r.convergedMs / 1000).toFixed(2)} s; ${lossPct} % loss on`);
    let mark = d.events.length;
    d.send("stats-begin");
    if (!(await d.next("ok", mark, 10_000))) throw new Error("no answer to stats-begin");
    ns.count("meta l4proto { udp, tcp }");
    ns.drop(`meta l4proto { udp, tcp } numgen random mod 100 < ${lossPct}`);
    const tLoss = performance.now();
    await sleep(warmMs);
    for (let k = 0; k < kills; k++) {
      mark = d.events.length;
      d.send(`kill ${n - 1 - k}`);
      const det = await d.next("detected", mark, 45_000);
      if (!det) throw new Error(`kill ${k + 1}: no detection report`);
      const one: Kill = {
        victim: det.victim as string,
        firstSuspectMs: det.firstSuspectMs as number | null,
        firstDeadMs: det.firstDeadMs as number | null,
        allDeadMs: det.allDeadMs as number | null,
        deadMs: (det.deadMs as number[] | undefined) ?? [],
      };
      r.kills.push(one);
      log(
        `${impl}: kill ${k + 1}: suspect ${fmt(one.firstSuspectMs)}, dead ${
          fmt(one.firstDeadMs)
        }, all ${fmt(one.allDeadMs)} s`,
      );
      await sleep(gapMs);
    }
    await sleep(Math.max(0, tailMs - gapMs));
    mark = d.events.length;
    d.send("stats-end");
    const stats = await d.next("stats", mark, 10_000);
    const c = ns.counters();
    ns.flush();
    r.lossSeconds = Math.round((performance.now() - tLoss) / 1000);
    r.packets = c.counted;
    r.measuredLossPct = c.counted ? Math.round((c.dropped / c.counted) * 1000) / 10 : null;
    if (!stats) throw new Error("no stats");
    r.falseDeaths = stats.falseDead as number;
    r.falseDeadMembers = (stats.falseDeadMembers as number | undefined) ?? null;
    log(
      `${impl}: ${r.falseDeaths} false deaths (${r.falseDeadMembers} members) in ${r.lossSeconds} s`,
    );
  } catch (err) {
    r.error = (err as Error).message;
    log(`${impl}: ERROR ${r.error}`);
  } finally {
    await d?.stop();
    ns.delete();
  }
  return r;
}

function fmt(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? "—" : (ms / 1000).toFixed(2);
}

/** Median (lower middle for even counts) of the finite values, or null. */
function median(xs: readonly (number | null)[]): number | null {
  const s = xs.filter((x): x is number => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : null;
}

function cleanup(): void {
  for (const c of children) {
    try {
      c.kill("SIGKILL");
    } catch { /* gone */ }
  }
}
process.on("exit", cleanup);
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    cleanup();
    process.exit(130); // the namespaces go in _netns.ts's exit handler
  });
}
const maxMs = Number(values["max-minutes"]) * 60_000;
setTimeout(() => {
  log(`--max-minutes ${values["max-minutes"]} reached: stopping`);
  cleanup();
  process.exit(3);
}, maxMs).unref?.();

// MARK: main

const why = netnsUnsupported();
if (why) {
  console.error(`loss_detection: cannot run here: ${why}`);
  process.exit(2);
}
if (impls.includes("memberlist")) {
  execFileSync("bash", [`${ROOT}tests/interop/build_peer.sh`], { stdio: "inherit" });
  if (!existsSync(GO_PEER)) throw new Error("the Go peer could not be built");
}
const load = os.loadavg()[0];
log(
  `${impls.join(", ")}: ${n} members, ${lossPct} % loss, ${kills} kills, ${
    values.sequential ? "one after the other" : "side by side"
  } (load ${load.toFixed(2)})`,
);
const results: Result[] = [];
const runs = Math.max(1, Number(values.runs));
for (let run = 1; run <= runs; run++) {
  if (runs > 1) log(`run ${run} of ${runs}`);
  if (values.sequential) {
    for (const impl of impls) results.push(await runOne(impl, run));
  } else {
    results.push(...await Promise.all(impls.map((impl) => runOne(impl, run))));
  }
}

const when = new Date().toISOString().slice(0, 16).replace("T", " ");
console.log(
  `\nDetection under ${lossPct} % loss of UDP and TCP, ${n} members, LAN preset, ${when} UTC` +
    ` (load ${load.toFixed(2)} → ${os.loadavg()[0].toFixed(2)}; ${
      values.sequential ? "one after the other" : "side by side"
    })\n`,
);
console.log(
  "| implementation | run | kill | suspect, s | first dead, s | median survivor dead, s | all agree, s |",
);
console.log("|---|---:|---:|---:|---:|---:|---:|");
for (const r of results) {
  r.kills.forEach((k, i) => {
    console.log(
      `| ${LABEL[r.impl]} | ${r.run} | ${i + 1} | ${fmt(k.firstSuspectMs)} | ${
        fmt(k.firstDeadMs)
      } | ${fmt(median(k.deadMs))} | ${fmt(k.allDeadMs)} |`,
    );
  });
}
/** One summary row over `rs` (one run, or every run pooled), against memberlist's `ref`. */
function summary(label: string, run: string, rs: Result[], ref: Result[]): string {
  const kills = rs.flatMap((r) => r.kills);
  const all = kills.map((k) => k.allDeadMs);
  const ok = all.filter((x): x is number => x !== null);
  const m = median(all);
  const refMedian = median(ref.flatMap((r) => r.kills.map((k) => k.allDeadMs)));
  const missed = all.length - ok.length;
  const counted = rs.reduce((a, r) => a + (r.packets ?? 0), 0);
  const dropped = rs.reduce((a, r) => a + (r.packets ?? 0) * (r.measuredLossPct ?? 0) / 100, 0);
  const sum = (f: (r: Result) => number | null) =>
    rs.every((r) => f(r) !== null) ? rs.reduce((a, r) => a + f(r)!, 0) : "—";
  const errors = rs.filter((r) => r.error).map((r) => r.error);
  return `| ${label} | ${run} | ${
    counted ? (dropped / counted * 100).toFixed(1) : "—"
  } % of ${counted} | ${fmt(median(kills.map((k) => k.firstSuspectMs)))} | ${
    fmt(median(kills.map((k) => k.firstDeadMs)))
  } | **${fmt(m)}** (${
    ok.length ? `${fmt(Math.min(...ok))}–${fmt(Math.max(...ok))}` : "—"
  }; ${ok.length} kills${missed ? `, ${missed} not in 30 s` : ""}) | ${
    m !== null && refMedian ? `${(m / refMedian).toFixed(2)}×` : "—"
  } | ${sum((r) => r.falseDeaths)} (${sum((r) => r.falseDeadMembers)}) in ${
    sum((r) => r.lossSeconds)
  } s |${errors.length ? ` error: ${errors.join("; ")}` : ""}`;
}
console.log(
  "\n| implementation | run | dropped | suspect, median s | first dead, median s | kill → all agree, median s (min–max) | vs memberlist | false deaths (members) over the loss |",
);
console.log("|---|---:|---:|---:|---:|---:|---:|---:|");
for (let run = 1; run <= runs; run++) {
  const ref = results.filter((r) => r.impl === "memberlist" && r.run === run);
  for (const impl of impls) {
    const rs = results.filter((r) => r.impl === impl && r.run === run);
    console.log(summary(LABEL[impl], String(run), rs, ref));
  }
}
if (runs > 1) {
  const ref = results.filter((r) => r.impl === "memberlist");
  for (const impl of impls) {
    console.log(summary(LABEL[impl], "all", results.filter((r) => r.impl === impl), ref));
  }
}
if (values.json) {
  writeFileSync(values.json, JSON.stringify({ when, load, results }, null, 2) + "\n");
  log(`wrote ${values.json}`);
}
process.exit(results.some((r) => r.error) ? 1 : 0);
