/**
 * Plots of shoal at scale for docs/performance.md, from the results files the benchmarks write:
 *
 * - docs/scale-bootstrap.svg: a mass join's convergence after the last start vs n
 *   (bench/results/mass_join.json, from `bench/mass_join.ts --timing lan --spacing 20
 *   --streams --json …`), beside the bootstrap times Rapid's paper reports;
 * - docs/scale-views.svg: views per member during that bootstrap, raw and settled
 *   (bench/results/views.json, from `bench/views.ts --json …`), beside Rapid and memberlist;
 * - docs/scale-sim.svg and docs/scale-sim-memory.svg: the simulator's wall time per protocol
 *   period and its memory per member vs n (bench/results/sim_scale-deno*.json).
 *
 *   deno run -A bench/scale_plots.ts
 *
 * The reference points are the figures of Suresh et al., "Stable and Consistent Membership at
 * Scale with Rapid" (USENIX ATC 2018), for 2,000 processes: memberlist bootstraps in about 95 s
 * and its processes report 1,858 distinct cluster sizes; Rapid bootstraps 2–2.3× faster (about
 * 40–47 s) and reports at most 8. They time the whole bootstrap, shoal's points time it from the
 * last start, on a simulated LAN.
 *
 * @module
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { lineChart, type Series } from "./cluster/svg.ts";
import { readRows, type Row } from "./_results.ts";

const RESULTS = new URL("./results/", import.meta.url).pathname;
const DOCS = new URL("../docs/", import.meta.url).pathname;

const num = (v: unknown): number | null => typeof v === "number" && Number.isFinite(v) ? v : null;
const byN = (rows: Row[]) => [...rows].sort((a, b) => Number(a.n) - Number(b.n));

const joins = byN(
  readRows(`${RESULTS}mass_join.json`).filter((r) =>
    r.timing === "lan" && r.spacing === 20 && r.streams === true
  ),
);
const views = byN(
  readRows(`${RESULTS}views.json`).filter((r) => r.settle === 2000 && r.maxDelay === 10_000),
);
interface SimResult {
  readonly n: number;
  readonly heapPerNodeBytes: number;
  readonly swimOnly: { readonly wallPerPeriodMs: number } | null;
  readonly defaults: { readonly wallPerPeriodMs: number } | null;
}
const sims = new Map<number, SimResult>();
for (const file of readdirSync(RESULTS).filter((f) => /^sim_scale-deno.*\.json$/.test(f)).sort()) {
  const data = JSON.parse(readFileSync(`${RESULTS}${file}`, "utf8")) as { results: SimResult[] };
  for (const r of data.results) sims.set(r.n, { ...sims.get(r.n), ...r });
}
const simRows = [...sims.values()].sort((a, b) => a.n - b.n);

const RAPID = "#1b9e77", MEMBERLIST = "#d95f02", SHOAL = "#3b6fd6", SETTLED = "#7570b3";
const svgs: Record<string, string> = {
  "scale-bootstrap.svg": lineChart({
    title: "Mass join, members 20 ms apart: time to converge",
    xLabel: "members",
    yLabel: "seconds",
    logX: true,
    logY: true,
    series: [
      {
        name: "shoal, simulator, after the last start",
        color: SHOAL,
        points: joins.map((r) => ({ x: Number(r.n), y: (num(r.convergedMs) ?? NaN) / 1000 }))
          .map((p) => ({ ...p, y: Number.isNaN(p.y) ? null : p.y })),
      },
      { name: "Rapid, whole bootstrap (paper)", color: RAPID, points: [{ x: 2000, y: 43.5 }] },
      {
        name: "memberlist, whole bootstrap (Rapid paper)",
        color: MEMBERLIST,
        points: [{ x: 2000, y: 95 }],
      },
    ],
  }),
  "scale-views.svg": lineChart({
    title: "Views per member during the bootstrap",
    xLabel: "members",
    yLabel: "distinct views (log)",
    logX: true,
    logY: true,
    series: [
      {
        name: "shoal raw events (mean)",
        color: SHOAL,
        points: views.map((r) => ({ x: Number(r.n), y: mean(r.rawPerMember) })),
      },
      {
        name: "shoal node.views({ settle: 2000, maxDelay: 10000 }) (most)",
        color: SETTLED,
        points: views.map((r) => ({ x: Number(r.n), y: most(r.viewsPerMember) })),
      },
      { name: "Rapid (paper, most)", color: RAPID, points: [{ x: 2000, y: 8 }] },
      {
        name: "memberlist cluster sizes (Rapid paper)",
        color: MEMBERLIST,
        points: [{ x: 2000, y: 1858 }],
      },
    ],
  }),
  "scale-sim.svg": lineChart({
    title: "Simulator: wall time per protocol period (1 s of LAN timing)",
    xLabel: "members",
    yLabel: "ms per period (log)",
    logX: true,
    logY: true,
    series: [
      series("plain SWIM", SHOAL, (r) => r.swimOnly?.wallPerPeriodMs),
      series("shoal's defaults (anti-entropy on)", MEMBERLIST, (r) => r.defaults?.wallPerPeriodMs),
    ],
  }),
  "scale-sim-memory.svg": lineChart({
    title: "Simulator: heap per member, converged",
    xLabel: "members",
    yLabel: "KiB per member",
    logX: true,
    series: [series("heap per member", SHOAL, (r) => r.heapPerNodeBytes / 1024)],
  }),
};

function series(name: string, color: string, y: (r: SimResult) => number | undefined): Series {
  return { name, color, points: simRows.map((r) => ({ x: r.n, y: y(r) ?? null })) };
}
function mean(v: unknown): number | null {
  return num((v as { mean?: unknown } | undefined)?.mean);
}
function most(v: unknown): number | null {
  return num((v as { max?: unknown } | undefined)?.max);
}

for (const [file, svg] of Object.entries(svgs)) {
  writeFileSync(`${DOCS}${file}`, svg);
  console.log(`wrote docs/${file}`);
}
console.log(
  `points: ${joins.length} bootstraps, ${views.length} view runs, ${simRows.length} simulator sizes`,
);
