/**
 * The deterministic simulator at scale: wall-clock time per simulated protocol period, memory
 * per member, and how many periods a join and a death take to be known by all, against the
 * theory. Deno (`deno task bench:sim`) or Bun (`bun bench/sim_scale.ts`).
 *
 *   deno run -A --v8-flags=--expose-gc,--max-old-space-size=4096 bench/sim_scale.ts \
 *     [--sizes 1000,2000,4000,10000] [--periods 100] [--steady-only] [--plain-only] [--no-docs]
 *
 * Per n: a converged cluster of n members is built directly (`Simulator.addConverged`, no join
 * traffic), runs `--periods` protocol periods (memberlist's LAN timing: 1 s) twice — with
 * shoal's defaults (datagram anti-entropy: push/pull every 30 s scaled with n, re-announce
 * every 30 s) and with both off (plain SWIM: probes and gossip) — then a new member joins
 * and a member is killed (`--steady-only`: not; `--plain-only`: no run with the defaults). Members share their records where their
 * views agree, and a probe ring stays unwritten until read past its first positions, so a
 * converged cluster costs O(n) per member only in bit sets (n/8 bytes); the join and the death
 * make every member gossip, which writes every ring out (4n bytes per member). A size whose
 * estimate does not fit is skipped (or runs steady only) with the estimate. Writes
 * bench/results/sim_scale-<runtime>.json and, for the default sizes, the table between the
 * sim-results markers in docs/performance.md.
 *
 * @module
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import { parseArgs } from "node:util";
import { lanConfig, type SwimConfig } from "../src/core/config.ts";
import { suspicionBounds } from "../src/core/suspicion.ts";
import { Simulator } from "../src/sim/simulator.ts";
import { memberlistCodec } from "../src/wire/codec.ts";
import { machine } from "./machine.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    sizes: { type: "string", default: "1000,2000,4000,10000" },
    periods: { type: "string", default: "100" },
    "steady-only": { type: "boolean", default: false },
    "plain-only": { type: "boolean", default: false },
    "no-docs": { type: "boolean", default: false },
  },
});
const sizes = values.sizes.split(",").map(Number);
const periods = Number(values.periods);
const PERIOD = lanConfig.probeInterval;
/**
 * memberlist's LAN timing, with room for the joiner: a table of `maxMembers` (10,000) refuses
 * every new member.
 */
const lanFor = (n: number): SwimConfig => ({
  ...lanConfig,
  maxMembers: Math.max(lanConfig.maxMembers, 2 * n),
});
const runtime = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined" ? "bun" : "deno";

function collect(): void {
  const g = globalThis as { gc?: () => void; Bun?: { gc(force: boolean): void } };
  if (g.Bun) g.Bun.gc(true);
  else g.gc?.();
}
/**
 * Memory in use after a collection: the JS heap plus what lives outside it (typed arrays'
 * buffers: Deno counts them as `external`; Bun counts neither, so there the resident set).
 */
const memory = () => {
  collect();
  const u = process.memoryUsage();
  return runtime === "bun" ? u.rss : u.heapUsed + u.external;
};
/** Memory we allow ourselves on this shared 23 GB machine, outside and inside the JS heap. */
const MEMORY_LIMIT = 14 * 2 ** 30;
/**
 * Deno's JS heap: capped at 4 GiB by V8's pointer compression (`deno task bench:sim` passes
 * `--max-old-space-size=4096`); Bun has no such cap.
 */
const HEAP_LIMIT = runtime === "bun" ? MEMORY_LIMIT : 4 * 2 ** 30;
/** Measured: JS heap per simulated member, n up to 10,000 (see docs/performance.md). */
const HEAP_PER_MEMBER = 12 * 1024;

interface Result {
  n: number;
  skipped?: string;
  /** Why the join and the death were not run. */
  steadyOnly?: string;
  peakRssBytes?: number;
  warmStartSeconds?: number;
  heapPerNodeBytes?: number;
  bytesPerEntry?: number;
  defaults?: { wallPerPeriodMs: number; datagramsPerNodePerPeriod: number } | null;
  swimOnly?: { wallPerPeriodMs: number; datagramsPerNodePerPeriod: number };
  joinKnownByAllPeriods?: number | null;
  death?: {
    firstSuspectPeriods: number | null;
    firstDeadPeriods: number | null;
    allDeadPeriods: number | null;
  };
  theory?: {
    firstDetectionPeriods: number;
    suspicionMinPeriods: number;
    suspicionMaxPeriods: number;
    gossipRoundsToAll: number;
  };
}

/** Periods (at `step` ms resolution) until `pred` holds, or null after `limit` periods. */
function periodsUntil(
  sim: Simulator,
  pred: () => boolean,
  limit: number,
  step = 100,
): number | null {
  const t0 = sim.clock.now();
  return sim.runUntil(pred, limit * PERIOD, step) ? (sim.clock.now() - t0) / PERIOD : null;
}

/** Memory taken by a converged simulation of n members (the simulation is dropped after). */
function measureMemory(n: number) {
  const h0 = memory();
  const t0 = performance.now();
  const sim = new Simulator({ seed: 1, config: lanFor(n), codec: memberlistCodec });
  sim.addConverged(n);
  const warmStartSeconds = (performance.now() - t0) / 1000;
  const used = memory() - h0;
  if (sim.nodes.length !== n) throw new Error("lost nodes");
  return { warmStartSeconds, heapPerNodeBytes: used / n, bytesPerEntry: used / (n * n) };
}

function steady(n: number, config: SwimConfig, seed: number) {
  const sim = new Simulator({
    seed,
    config,
    codec: memberlistCodec,
    faults: { minDelay: 1, maxDelay: 5 },
  });
  sim.addConverged(n);
  const d0 = sim.network.counts.delivered;
  const t0 = performance.now();
  sim.runFor(periods * PERIOD);
  const wall = performance.now() - t0;
  return {
    sim,
    wallPerPeriodMs: wall / periods,
    datagramsPerNodePerPeriod: (sim.network.counts.delivered - d0) / n / periods,
  };
}

/**
 * Plain SWIM (no datagram anti-entropy) for `periods`, then a join and a kill in the same
 * cluster. The simulation is dropped on return.
 */
function plainSwim(n: number, steadyOnly: boolean): Partial<Result> {
  const r: Partial<Result> = {};
  const swimOnly = steady(n, { ...lanFor(n), pushPullInterval: 0, reannounceInterval: 0 }, 2);
  r.swimOnly = {
    wallPerPeriodMs: swimOnly.wallPerPeriodMs,
    datagramsPerNodePerPeriod: swimOnly.datagramsPerNodePerPeriod,
  };
  console.error(
    `n=${n}: plain SWIM ${swimOnly.wallPerPeriodMs.toFixed(0)} ms per period (${
      swimOnly.datagramsPerNodePerPeriod.toFixed(1)
    } datagrams per member)`,
  );

  if (steadyOnly) return r;
  // Join and death, in the plain-SWIM cluster (anti-entropy would only help).
  const sim = swimOnly.sim;
  sim.addNode("joiner");
  r.joinKnownByAllPeriods = periodsUntil(
    sim,
    () => sim.running().every((x) => x.swim.member("joiner")?.state === "alive"),
    60,
  );
  sim.runFor(10 * PERIOD);
  const victim = `n${n >> 1}`;
  sim.kill(victim);
  const firstOf = (type: string) => sim.eventsAbout(victim, type as "suspect").length > 0;
  const killedAt = sim.clock.now();
  const t = { firstSuspectPeriods: null as number | null, firstDeadPeriods: null as number | null };
  const allDead = periodsUntil(sim, () => {
    const now = (sim.clock.now() - killedAt) / PERIOD;
    if (t.firstSuspectPeriods === null && firstOf("suspect")) t.firstSuspectPeriods = now;
    if (t.firstDeadPeriods === null && firstOf("dead")) t.firstDeadPeriods = now;
    return t.firstDeadPeriods !== null &&
      sim.running().every((x) => x.swim.member(victim)?.state === "dead");
  }, 120);
  r.death = { ...t, allDeadPeriods: allDead };
  const b = suspicionBounds(
    n + 1,
    lanConfig.suspicionMult,
    lanConfig.suspicionMaxTimeoutMult,
    PERIOD,
  );
  const k = lanConfig.gossipNodes, roundsPerPeriod = PERIOD / lanConfig.gossipInterval;
  r.theory = {
    firstDetectionPeriods: Math.E / (Math.E - 1),
    suspicionMinPeriods: b.min / PERIOD,
    suspicionMaxPeriods: b.max / PERIOD,
    // Push gossip to k members per round (Pittel): log_{k+1} n + ln n / k rounds.
    gossipRoundsToAll: (Math.log(n) / Math.log(k + 1) + Math.log(n) / k) / roundsPerPeriod,
  };
  console.error(
    `n=${n}: join known by all after ${
      r.joinKnownByAllPeriods?.toFixed(1)
    } periods; death: first suspect ${t.firstSuspectPeriods?.toFixed(1)}, first dead ${
      t.firstDeadPeriods?.toFixed(1)
    }, all dead ${allDead?.toFixed(1)} periods`,
  );
  return r;
}

/** The process's peak resident set so far (Linux), else its current one. */
function peakRss(): number {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
    if (kb) return Number(kb[1]) * 1024;
  } catch { /* not Linux */ }
  return process.memoryUsage().rss;
}

const results: Result[] = [];
let perNodePeriodMs = 0; // of the largest size run, plain SWIM
for (const n of sizes) {
  const r: Result = { n };
  results.push(r);
  const heapNeed = n * HEAP_PER_MEMBER * 1.25;
  // Bit sets of the tables (n/8 bytes each), and the rings once written (4n bytes each).
  const steadyNeed = heapNeed + n * n / 8;
  const fullNeed = steadyNeed + n * n * 4 * 1.125;
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
  if (heapNeed > HEAP_LIMIT || steadyNeed > MEMORY_LIMIT) {
    r.skipped = `${n.toLocaleString("en-US")} members need about ${gib(heapNeed)} of JS heap and ${
      gib(steadyNeed)
    } in all, over the ${gib(HEAP_LIMIT)} / ${gib(MEMORY_LIMIT)} this benchmark allows itself`;
    console.error(`n=${n}: skipped: ${r.skipped}`);
    continue;
  }
  if (values["steady-only"]) r.steadyOnly = "--steady-only";
  else if (fullNeed > MEMORY_LIMIT) {
    r.steadyOnly = `the join and the death write out every probe ring: about ${
      gib(fullNeed)
    }, over ${gib(MEMORY_LIMIT)}`;
  }
  if (r.steadyOnly) console.error(`n=${n}: steady state only (${r.steadyOnly})`);
  const used = measureMemory(n);
  Object.assign(r, used);
  console.error(
    `n=${n}: warm start ${used.warmStartSeconds.toFixed(1)} s, ${
      (used.heapPerNodeBytes / 1024).toFixed(1)
    } KiB per member (${used.bytesPerEntry.toFixed(1)} B per table entry)`,
  );
  collect();

  Object.assign(r, plainSwim(n, r.steadyOnly !== undefined));
  perNodePeriodMs = r.swimOnly!.wallPerPeriodMs / n;
  collect();

  if (values["plain-only"]) {
    r.defaults = null;
    r.peakRssBytes = peakRss();
    continue;
  }
  const defaults = steady(n, lanFor(n), 3);
  r.defaults = {
    wallPerPeriodMs: defaults.wallPerPeriodMs,
    datagramsPerNodePerPeriod: defaults.datagramsPerNodePerPeriod,
  };
  console.error(
    `n=${n}: defaults ${defaults.wallPerPeriodMs.toFixed(0)} ms per period (${
      defaults.datagramsPerNodePerPeriod.toFixed(1)
    } datagrams per member)`,
  );
  collect();
  r.peakRssBytes = peakRss();
}

const f1 = (v: number | null | undefined) => v == null ? "—" : v.toFixed(1);
const lines = [
  `Measured ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC with ${runtime} (${
    runtime === "bun" ? process.versions.bun : Deno.version.deno
  }), ${periods} periods of 1 s (memberlist's LAN timing), one simulation at a time on one core.`,
  "",
  "| n | warm start, s | memory per member | per table entry | wall per period, plain SWIM | wall per period, defaults (anti-entropy on) | join known by all, periods | kill → first suspect | → first dead | → all dead, periods | peak RSS |",
  "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
];
for (const r of results) {
  if (r.skipped) {
    lines.push(`| ${r.n.toLocaleString("en-US")} | skipped: ${r.skipped} ||||||||||`);
    continue;
  }
  const kib = (r.heapPerNodeBytes ?? 0) / 1024;
  const death = r.death
    ? `${f1(r.death.firstSuspectPeriods)} | ${f1(r.death.firstDeadPeriods)} | ${
      f1(r.death.allDeadPeriods)
    }`
    : "not run | | ";
  lines.push(
    `| ${r.n.toLocaleString("en-US")} | ${f1(r.warmStartSeconds)} | ${
      kib.toFixed(kib < 100 ? 1 : 0)
    } KiB | ${(r.bytesPerEntry ?? 0).toFixed(1)} B | ${
      r.swimOnly!.wallPerPeriodMs.toFixed(0)
    } ms (${f1(r.swimOnly!.datagramsPerNodePerPeriod)} datagrams per member) | ${
      r.defaults
        ? `${r.defaults.wallPerPeriodMs.toFixed(0)} ms (${
          f1(r.defaults.datagramsPerNodePerPeriod)
        })`
        : "not run"
    } | ${r.death ? f1(r.joinKnownByAllPeriods) : "not run"} | ${death} | ${
      ((r.peakRssBytes ?? 0) / 2 ** 30).toFixed(1)
    } GiB |`,
  );
}
lines.push(
  "",
  "Theory, per n (periods):",
  "",
  "| n | first detection e/(e−1) | suspicion min … max | push gossip to all, log₄ n + ln n / 3 rounds |",
  "|---:|---:|---:|---:|",
);
for (const r of results.filter((x) => x.theory)) {
  lines.push(
    `| ${r.n.toLocaleString("en-US")} | ${r.theory!.firstDetectionPeriods.toFixed(2)} | ${
      f1(r.theory!.suspicionMinPeriods)
    } … ${f1(r.theory!.suspicionMaxPeriods)} | ${r.theory!.gossipRoundsToAll.toFixed(2)} |`,
  );
}
if (perNodePeriodMs > 0) {
  lines.push(
    "",
    `Largest size run: plain SWIM costs ${
      (perNodePeriodMs * 1000).toFixed(0)
    } µs per member per period.`,
  );
}
const md = lines.join("\n");
console.log(md);

const root = new URL("../", import.meta.url).pathname;
mkdirSync(`${root}bench/results`, { recursive: true });
writeFileSync(
  `${root}bench/results/sim_scale-${runtime}${periods === 100 ? "" : `-${periods}p`}.json`,
  JSON.stringify({ machine: machine(), runtime, periods, results }, null, 2) + "\n",
);
if (!values["no-docs"]) {
  const doc = `${root}docs/performance.md`;
  const BEGIN = `<!-- sim-results-${runtime}:begin -->`,
    END = `<!-- sim-results-${runtime}:end -->`;
  try {
    const text = readFileSync(doc, "utf8");
    const a = text.indexOf(BEGIN), b = text.indexOf(END);
    if (a >= 0 && b > a) {
      writeFileSync(doc, `${text.slice(0, a + BEGIN.length)}\n${md}\n${text.slice(b)}`);
    }
  } catch { /* no docs to update */ }
}
process.exit(0);
