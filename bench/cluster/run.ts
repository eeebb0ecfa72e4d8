/**
 * The cluster benchmark: shoal on Deno, shoal on Bun, HashiCorp memberlist (Go) and swim-js
 * (Node) side by side on loopback, n nodes of one implementation in one process.
 *
 *   deno task bench:cluster [--sizes 10,20,50,100,200] [--impls shoal-deno,shoal-bun,memberlist,swim-js]
 *                           [--steady 30] [--kills 3] [--lan-sizes 100] [--big 1000] [--quick]
 *                           [--no-docs]
 *
 * It installs what it needs: the Go peer (tests/interop/build_peer.sh, Go and memberlist from
 * Debian packages) and swim-js (npm, into .cache/swim-js, built with CXXFLAGS=-std=gnu++17).
 * An implementation that cannot be installed is skipped with the reason.
 *
 * Each run, for one implementation and one n (runs go one at a time, sizes outer, so the
 * implementations are compared minutes apart):
 *  1. start n nodes one after the other (as fast as they start), each joining the first:
 *     convergence = from the last start until every node sees all n (not dead);
 *  2. after 5 s + 50 ms per node (at most 15 s) for the join's rumours to die down, a steady state for
 *     `--steady` s: CPU seconds (from /proc, the whole process), RSS,
 *     datagrams and bytes sent, dead declarations of live members (false deads);
 *  3. `--kills` times: kill a node (no goodbye), time the first suspicion, the first dead
 *     declaration and the moment all survivors hold it dead.
 *  `--lan-sizes N,…` (100) runs every implementation again at memberlist's LAN timing (probe
 *  1 s, timeout 500 ms, gossip 200 ms; what users run), after a 30 s warm-up, so both timings
 *  are measured side by side.
 *  `--big N` adds runs of shoal alone at n = N for RSS per node at scale: memberlist's LAN
 *  timing (probe 1 s), nodes started 20 ms apart, a 10 s steady state, no kills.
 *
 * Results: bench/results/cluster.json, the tables printed and written into
 * docs/performance.md (between the cluster-results markers), and SVG plots in docs/
 * (bench/cluster/report.ts regenerates both from the JSON).
 *
 * Drivers (one process each, one line protocol): bench/cluster/shoal_driver.ts,
 * bench/cluster/swimjs_driver.mjs, and the Go peer's `-nodes N` mode.
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import process from "node:process";
import { parseArgs } from "node:util";
import { machine } from "../machine.ts";
import { type ClusterResults, type Detection, type Impl, IMPLS, isBig, type Run } from "./model.ts";
import { Driver } from "./driver.ts";
import { writeReport } from "./report.ts";
import { minSuspicionMs, TIMING } from "./timing.ts";

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "10,20,50,100,200" },
    impls: { type: "string", default: IMPLS.join(",") },
    steady: { type: "string", default: "30" },
    kills: { type: "string", default: "5" },
    big: { type: "string", default: "1000" },
    "lan-sizes": { type: "string", default: "100" },
    "converge-timeout": { type: "string", default: "45" },
    quick: { type: "boolean", default: false },
    "no-docs": { type: "boolean", default: false },
    out: { type: "string" },
    // Replace the matching runs of an existing results file instead of writing a new one.
    merge: { type: "boolean", default: false },
  },
});

const ROOT = new URL("../../", import.meta.url).pathname;
const BIN = `${ROOT}node_modules/.bin/`;
const SWIM_DIR = `${ROOT}.cache/swim-js`;
const GO_PEER = `${ROOT}.cache/interop/peer`;
const quick = values.quick;
const list = (v: string) => v.split(",").filter((x) => x.trim() && x !== "0").map(Number);
const sizes = quick ? [10] : list(values.sizes);
const steadyS = quick ? 5 : Number(values.steady);
const kills = quick ? 1 : Number(values.kills);
const big = quick ? [] : list(values.big);
const lanSizes = quick ? [] : list(values["lan-sizes"]);
/** Runs: the shared fast TIMING, the LAN preset side by side, or shoal alone at scale. */
type Mode = "fast" | "lan" | "big";
/** LAN timing's probe interval and timeout (memberlist's DefaultLANConfig). */
const LAN = { probeIntervalMs: 1000, probeTimeoutMs: 500, gossipIntervalMs: 200 };
const impls = values.impls.split(",") as Impl[];
const convergeS = Number(values["converge-timeout"]);
const started = performance.now();
const log = (s: string) =>
  console.error(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${s}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// MARK: installation

const skipped: Partial<Record<Impl, string>> = {};

function installGo(): void {
  try {
    execFileSync("bash", [`${ROOT}tests/interop/build_peer.sh`], { stdio: "inherit" });
    if (!existsSync(GO_PEER)) throw new Error("build_peer.sh produced no binary");
  } catch (err) {
    skipped.memberlist = `Go peer could not be built: ${(err as Error).message}`;
  }
}

function installSwimJs(): void {
  const check = () =>
    execFileSync("node", ["-e", "require('swim'); require('msgpack').pack({})"], {
      cwd: SWIM_DIR,
      stdio: "pipe",
    });
  try {
    mkdirSync(SWIM_DIR, { recursive: true });
    try {
      check();
      return;
    } catch { /* install below */ }
    // swim 0.6.0's native addons (msgpack, farmhash) force C++11, which Node 20's headers
    // reject: build them as C++17. npm ≥ 11 runs dependency install scripts only when allowed.
    writeFileSync(
      `${SWIM_DIR}/package.json`,
      JSON.stringify(
        {
          name: "shoal-bench-swim-js",
          private: true,
          dependencies: { swim: "0.6.0" },
          allowScripts: { msgpack: true, farmhash: true },
        },
        null,
        2,
      ) + "\n",
    );
    const env = { ...process.env, CXXFLAGS: "-std=gnu++17" };
    log("installing swim-js 0.6.0 into .cache/swim-js (npm, CXXFLAGS=-std=gnu++17)...");
    execFileSync("npm", ["install", "--no-audit", "--no-fund"], {
      cwd: SWIM_DIR,
      env,
      stdio: "inherit",
    });
    try {
      check();
    } catch {
      execFileSync("npm", ["rebuild", "msgpack", "farmhash"], {
        cwd: SWIM_DIR,
        env,
        stdio: "inherit",
      });
      check();
    }
  } catch (err) {
    skipped["swim-js"] = `swim-js could not be installed: ${(err as Error).message}`;
  }
}

// MARK: processes

function command(impl: Impl, n: number, mode: Mode): [string, string[]] {
  // The large runs (shoal only): memberlist's LAN timing, nodes started 20 ms apart.
  const extra = mode === "big"
    ? ["--lan", "--join-gap", "20", "--converge-timeout", "150"]
    : [...(mode === "lan" ? ["--lan"] : []), "--converge-timeout", `${convergeS}`];
  const t = mode === "fast" ? TIMING : { ...TIMING, ...LAN };
  switch (impl) {
    case "shoal-deno":
      return [`${BIN}deno`, [
        "run",
        "-A",
        "bench/cluster/shoal_driver.ts",
        "--nodes",
        `${n}`,
        ...extra,
      ]];
    case "shoal-bun":
      return [`${BIN}bun`, ["bench/cluster/shoal_driver.ts", "--nodes", `${n}`, ...extra]];
    case "memberlist":
      return [GO_PEER, [
        "-nodes",
        `${n}`,
        "-preset",
        "lan",
        "-probe-interval",
        `${t.probeIntervalMs}ms`,
        "-probe-timeout",
        `${t.probeTimeoutMs}ms`,
        "-gossip-interval",
        `${t.gossipIntervalMs}ms`,
        "-suspicion-mult",
        `${t.suspicionMult}`,
        "-push-pull-interval",
        "-1ms", // off
        "-converge-timeout",
        `${convergeS}s`,
      ]];
    case "swim-js":
      return ["node", [
        "bench/cluster/swimjs_driver.mjs",
        "--swim",
        `${SWIM_DIR}/node_modules/swim`,
        "--nodes",
        `${n}`,
        "--interval",
        `${t.probeIntervalMs}`,
        "--ping-timeout",
        `${t.probeTimeoutMs}`,
        "--ping-req-timeout",
        `${t.probeIntervalMs - t.probeTimeoutMs}`,
        "--ping-req-group-size",
        `${t.indirectChecks}`,
        "--suspect-timeout",
        `${minSuspicionMs(n) * t.probeIntervalMs / TIMING.probeIntervalMs}`,
        "--converge-timeout",
        `${convergeS}`,
      ]];
  }
}

const TICKS = 100; // USER_HZ on Linux

/** CPU seconds (all threads) and resident memory of a process, from /proc. */
function usage(pid: number): { cpu: number; rss: number; hwm: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpu = (Number(fields[11]) + Number(fields[12])) / TICKS; // utime, stime
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) =>
    Number(status.match(new RegExp(`${key}:\\s+(\\d+)`))?.[1] ?? 0) * 1024;
  return { cpu, rss: kb("VmRSS"), hwm: kb("VmHWM") };
}

const median = (xs: number[]) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : null;
};

async function runOne(
  impl: Impl,
  n: number,
  steady: number,
  killCount: number,
  mode: Mode = "fast",
): Promise<Run> {
  const big = mode === "big";
  const [cmd, args] = command(impl, n, mode);
  const load = os.loadavg()[0];
  log(`${impl} n=${n}: starting (load ${load.toFixed(2)})`);
  const d = new Driver(cmd, args, ROOT);
  const run: Run = {
    impl,
    n,
    convergedMs: null,
    joinMs: null,
    minSeen: null,
    steadySeconds: steady,
    cpuSeconds: null,
    cpuPerNodePerSec: null,
    rssBytes: null,
    rssPerNodeBytes: null,
    peakRssBytes: null,
    packetsPerNodePerSec: null,
    bytesPerNodePerSec: null,
    falseDead: null,
    falseSuspect: null,
    falseDeadJoin: null,
    detections: [],
    firstSuspectMs: null,
    firstDeadMs: null,
    allDeadMs: null,
    timing: mode === "fast" ? "fast" : "lan",
    big,
    loadBefore: load,
    loadAfter: null,
    error: null,
  };
  try {
    const converged = await d.next("converged", 0, ((big ? 150 : convergeS) + 60) * 1000);
    if (!converged) throw new Error(`no convergence report\n${d.stderr.slice(-15).join("\n")}`);
    run.convergedMs = converged.ms as number | null;
    run.minSeen = converged.minSeen as number;
    run.joinMs = (converged.joinMs as number | undefined) ?? null;
    log(
      `${impl} n=${n}: ${
        run.convergedMs === null
          ? `did NOT converge (min view ${run.minSeen}/${n})`
          : `converged in ${(run.convergedMs / 1000).toFixed(2)} s`
      }`,
    );
    // Let the join's rumours die down before measuring (longer for larger clusters, and at
    // LAN timing, whose gossip and probes are 4-5× slower).
    await sleep(mode === "lan" ? 30_000 : 5000 + Math.min(n * 50, 10_000));
    let mark = d.events.length;
    d.send("stats-begin");
    const ok = await d.next("ok", mark, 10_000);
    run.falseDeadJoin = (ok?.falseDeadBefore as number | undefined) ?? null;
    const u0 = usage(d.pid);
    await sleep(steady * 1000);
    const u1 = usage(d.pid);
    mark = d.events.length;
    d.send("stats-end");
    const stats = await d.next("stats", mark, 10_000);
    if (!stats) throw new Error("no stats");
    run.cpuSeconds = u1.cpu - u0.cpu;
    run.cpuPerNodePerSec = run.cpuSeconds / steady / n;
    run.rssBytes = u1.rss;
    run.rssPerNodeBytes = u1.rss / n;
    run.peakRssBytes = u1.hwm;
    run.packetsPerNodePerSec = (stats.packets as number) / steady / n;
    run.bytesPerNodePerSec = (stats.bytes as number) / steady / n;
    run.falseDead = stats.falseDead as number;
    run.falseSuspect = (stats.falseSuspect as number | undefined) ?? null;
    log(
      `${impl} n=${n}: CPU ${(run.cpuPerNodePerSec * 1000).toFixed(2)} ms/node/s, RSS ${
        (run.rssPerNodeBytes / 2 ** 20).toFixed(2)
      } MiB/node, ${run.packetsPerNodePerSec.toFixed(1)} pkt & ${
        run.bytesPerNodePerSec.toFixed(0)
      } B/node/s, false dead ${run.falseDead}`,
    );
    // Kill nodes once converged, or when a view or two lacks a member or two (gossip alone
    // left a gap) but the cluster is stable; a melting cluster has nothing to detect.
    const stable = run.convergedMs !== null ||
      ((run.minSeen ?? 0) >= 0.95 * n && run.falseDead === 0);
    if (stable) {
      for (let k = 0; k < killCount; k++) {
        mark = d.events.length;
        d.send(`kill ${n - 1 - k}`);
        const det = await d.next("detected", mark, 40_000);
        if (!det) break;
        const one: Detection = {
          firstSuspectMs: det.firstSuspectMs as number | null,
          firstDeadMs: det.firstDeadMs as number | null,
          allDeadMs: det.allDeadMs as number | null,
        };
        run.detections.push(one);
        log(
          `${impl} n=${n}: kill ${k + 1}: suspect ${one.firstSuspectMs?.toFixed(0)} ms, dead ${
            one.firstDeadMs?.toFixed(0)
          } ms, all ${one.allDeadMs?.toFixed(0) ?? "never (30 s)"} ms`,
        );
        await sleep(1500);
      }
      const pick = (f: (x: Detection) => number | null) =>
        median(run.detections.map((x) => f(x) ?? Infinity));
      run.firstSuspectMs = pick((x) => x.firstSuspectMs);
      run.firstDeadMs = pick((x) => x.firstDeadMs);
      run.allDeadMs = pick((x) => x.allDeadMs);
    }
  } catch (err) {
    run.error = (err as Error).message;
    log(`${impl} n=${n}: ERROR ${run.error}`);
  } finally {
    await d.stop();
    run.loadAfter = os.loadavg()[0];
  }
  return run;
}

// MARK: main

log("installing peers...");
if (impls.includes("memberlist")) installGo();
if (impls.includes("swim-js")) installSwimJs();
for (const [impl, why] of Object.entries(skipped)) log(`skipping ${impl}: ${why}`);

const runs: Run[] = [];
for (const n of sizes) {
  for (const impl of impls) {
    if (skipped[impl]) continue;
    runs.push(await runOne(impl, n, steadyS, kills));
  }
}
for (const n of lanSizes) {
  for (const impl of impls) {
    if (skipped[impl]) continue;
    runs.push(await runOne(impl, n, steadyS, kills, "lan"));
  }
}
for (const n of big) {
  for (const impl of impls.filter((i) => i.startsWith("shoal-"))) {
    runs.push(await runOne(impl, n, Math.min(steadyS, 10), 0, "big"));
  }
}

const out = values.out ?? `${ROOT}bench/results/cluster${quick ? "-quick" : ""}.json`;
const invocation = `deno task bench:cluster ${process.argv.slice(2).join(" ")}`.trim();
let results: ClusterResults = {
  machine: machine(),
  command: invocation,
  wallSeconds: (performance.now() - started) / 1000,
  timing: { ...TIMING, pushPull: "off", swimJsSuspectTimeoutMs: "memberlist's minimum for n" },
  skipped,
  runs,
};
if (values.merge && existsSync(out)) {
  const old = JSON.parse(readFileSync(out, "utf8")) as ClusterResults;
  const same = (a: Run, b: Run) =>
    a.impl === b.impl && a.n === b.n && a.timing === b.timing && isBig(a) === isBig(b);
  const kept = old.runs.filter((r) => !runs.some((x) => same(x, r)));
  results = {
    ...old,
    command: `${old.command}; then ${invocation}`,
    wallSeconds: old.wallSeconds + results.wallSeconds,
    runs: [...kept, ...runs],
  };
}
mkdirSync(`${ROOT}bench/results`, { recursive: true });
writeFileSync(out, JSON.stringify(results, null, 2) + "\n");
log(`wrote ${out}`);
console.log(writeReport(results, { docs: !values["no-docs"] && !quick }));
log(`done in ${(results.wallSeconds / 60).toFixed(1)} min`);
process.exit(0);
