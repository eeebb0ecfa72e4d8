/**
 * Run the mitata micro-benchmarks under Deno, then under Bun (one after the other, never at
 * once), and print them side by side. Writes bench/results/micro.json.
 *
 *   deno run -A bench/runtimes.ts [--filter REGEX]
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { machine } from "./machine.ts";

const { values } = parseArgs({ options: { filter: { type: "string" } } });
const root = new URL("../", import.meta.url).pathname;
const results = new URL("./results/", import.meta.url).pathname;
mkdirSync(results, { recursive: true });

interface Row {
  group: string;
  name: string;
  avgNs: number;
  p50Ns: number;
  p99Ns: number;
}
const runs: Record<string, { runtime: string; cases: Row[] }> = {};
for (
  const [label, cmd, args] of [
    ["deno", `${root}node_modules/.bin/deno`, ["run", "-A", "bench/mitata.ts"]],
    ["bun", `${root}node_modules/.bin/bun`, ["bench/mitata.ts"]],
  ] as const
) {
  const out = `${results}micro-${label}.tmp.json`;
  const extra = values.filter ? ["--filter", values.filter] : [];
  console.error(`running the micro-benchmarks under ${label}...`);
  execFileSync(cmd, [...args, "--json", out, ...extra], { cwd: root, stdio: "inherit" });
  runs[label] = JSON.parse(readFileSync(out, "utf8"));
  rmSync(out);
}

const fmt = (ns: number) =>
  ns >= 1e6
    ? `${(ns / 1e6).toFixed(2)} ms`
    : ns >= 1e3
    ? `${(ns / 1e3).toFixed(2)} µs`
    : `${ns.toFixed(0)} ns`;
const lines = [
  `| group | case | ${runs.deno.runtime} | ${runs.bun.runtime} | Bun / Deno |`,
  "|---|---|---:|---:|---:|",
];
const rows = [];
for (const d of runs.deno.cases) {
  const b = runs.bun.cases.find((x) => x.group === d.group && x.name === d.name);
  if (!b) continue;
  rows.push({ group: d.group, name: d.name, deno: d, bun: b });
  lines.push(
    `| ${d.group} | ${d.name} | ${fmt(d.avgNs)} | ${fmt(b.avgNs)} | ${
      (b.avgNs / d.avgNs).toFixed(2)
    } |`,
  );
}
const md = [
  `Measured ${
    new Date().toISOString().slice(0, 16).replace("T", " ")
  } UTC, \`deno task bench:runtimes\` (mitata, the same cases under both runtimes, one after the other); mean time per iteration.`,
  "",
  ...lines,
].join("\n");
console.log(md);
const doc = new URL("../docs/performance.md", import.meta.url).pathname;
try {
  const text = readFileSync(doc, "utf8");
  const BEGIN = "<!-- micro-results:begin -->", END = "<!-- micro-results:end -->";
  const a = text.indexOf(BEGIN), b = text.indexOf(END);
  if (a >= 0 && b > a) {
    writeFileSync(doc, `${text.slice(0, a + BEGIN.length)}\n${md}\n${text.slice(b)}`);
  }
} catch { /* no docs to update */ }
writeFileSync(
  `${results}micro.json`,
  JSON.stringify(
    { machine: machine(), deno: runs.deno.runtime, bun: runs.bun.runtime, rows },
    null,
    2,
  ) +
    "\n",
);
console.error(`wrote ${results}micro.json`);
