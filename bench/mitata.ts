/**
 * The micro-benchmarks (bench/cases.ts) under mitata, so that Deno and Bun run the very same
 * cases (Bun has no bench runner):
 *
 *   deno run -A bench/mitata.ts [--json FILE] [--filter REGEX] [--quick]
 *   bun bench/mitata.ts         [--json FILE] [--filter REGEX] [--quick]
 *
 * `--json` also writes `{ runtime, cases: [{ group, name, avgNs, p50Ns, p99Ns }] }` to FILE;
 * `bench/runtimes.ts` runs both runtimes and prints them side by side.
 */
import { writeFileSync } from "node:fs";
import process from "node:process";
import { parseArgs } from "node:util";
import { bench, group, run } from "mitata";
import {
  type BenchCase,
  codecCases,
  coreCases,
  cryptoCases,
  lastResult,
  queueCases,
} from "./cases.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    json: { type: "string" },
    filter: { type: "string" },
    quick: { type: "boolean", default: false },
  },
});

const cases: BenchCase[] = [
  ...codecCases(),
  ...await cryptoCases(),
  ...coreCases(),
  ...queueCases(),
];
const filter = values.filter ? new RegExp(values.filter) : undefined;
const byGroup = new Map<string, BenchCase[]>();
for (const c of cases) {
  if (filter && !filter.test(`${c.group} ${c.name}`)) continue;
  let list = byGroup.get(c.group);
  if (!list) byGroup.set(c.group, list = []);
  list.push(c);
}
const keys = new Map<string, BenchCase>();
for (const [name, list] of byGroup) {
  group(name, () => {
    for (const c of list) {
      const key = `${c.group} / ${c.name}`;
      keys.set(key, c);
      const b = bench(key, c.fn);
      if (c.baseline) b.baseline(true);
    }
  });
}

const runtime = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined"
  ? `bun ${process.versions.bun}`
  : typeof (globalThis as { Deno?: unknown }).Deno !== "undefined"
  ? `deno ${(globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno}`
  : `node ${process.versions.node}`;

// --quick trades precision for time (a smoke run).
const result = await run(values.quick ? { format: "quiet" } : {});
const rows = [];
for (const trial of result.benchmarks) {
  for (const r of trial.runs) {
    const c = keys.get(r.name);
    if (!c || !r.stats) continue;
    rows.push({
      group: c.group,
      name: c.name,
      avgNs: r.stats.avg,
      p50Ns: r.stats.p50,
      p99Ns: r.stats.p99,
    });
  }
}
if (values.quick) {
  for (const r of rows) console.log(`${r.group} / ${r.name}: ${r.avgNs.toFixed(0)} ns`);
}
if (values.json) {
  writeFileSync(values.json, JSON.stringify({ runtime, cases: rows }, null, 2) + "\n");
}
void lastResult();
