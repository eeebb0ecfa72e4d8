/**
 * Tables, target checks and SVG plots from the cluster benchmark's results. Called by
 * bench/cluster/run.ts; run alone to regenerate them from a results file:
 *
 *   deno run -A bench/cluster/report.ts [bench/results/cluster.json]
 *
 * Writes docs/perf-detection.svg, docs/perf-cpu.svg, docs/perf-bytes.svg and
 * docs/perf-convergence.svg, and replaces the text between
 * `<!-- cluster-results:begin -->` and `<!-- cluster-results:end -->` in docs/performance.md.
 *
 * @module
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import { type ClusterResults, type Impl, IMPLS, isBig, LABELS, type Run } from "./model.ts";
import { lineChart } from "./svg.ts";

const DOCS = new URL("../../docs/", import.meta.url).pathname;
const BEGIN = "<!-- cluster-results:begin -->";
const END = "<!-- cluster-results:end -->";

const ms = (v: number | null) => v === null || !Number.isFinite(v) ? "—" : v.toFixed(0);
const secs = (v: number | null) => v === null ? "did not converge" : (v / 1000).toFixed(2);
const num = (v: number | null, digits = 1) => v === null ? "—" : v.toFixed(digits);
const mib = (v: number | null) => v === null ? "—" : (v / 2 ** 20).toFixed(2);
const ratio = (a: number | null | undefined, b: number | null | undefined) =>
  a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0 ? null : a / b;
const times = (r: number | null) => r === null ? "n/a" : `${r.toFixed(2)}×`;

function find(results: ClusterResults, impl: Impl, n: number): Run | undefined {
  return results.runs.find((r) => r.impl === impl && r.n === n && !r.error && r.timing !== "lan");
}

/** The Markdown tables and target checks. */
export function markdown(results: ClusterResults): string {
  const fast = results.runs.filter((r) => r.timing !== "lan");
  const lan = results.runs.filter((r) => r.timing === "lan" && !isBig(r));
  const large = results.runs.filter(isBig);
  const sizes = [...new Set(fast.map((r) => r.n))].sort((a, b) => a - b);
  const out: string[] = [];
  const m = results.machine;
  out.push(
    `Measured ${
      m.date.slice(0, 16).replace("T", " ")
    } UTC on ${m.nproc} × ${m.cpu}, memory ${m.memory}; ${
      [m.deno, m.bun && `bun ${m.bun}`, m.node && `node ${m.node}`, m.go].filter(Boolean).join(", ")
    }. Command: \`${results.command}\` (${(results.wallSeconds / 60).toFixed(1)} min).`,
    "",
  );
  for (const [impl, why] of Object.entries(results.skipped)) {
    out.push(`**${LABELS[impl as Impl].label} skipped:** ${why}`, "");
  }
  out.push(
    "| n | implementation | converge, s | kill → first suspect, ms | → first dead, ms | → all survivors agree, ms | CPU, ms per node per s | RSS per node, MiB | packets per node per s | bytes per node per s | false dead: join / steady |",
    "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const n of sizes) {
    for (const impl of IMPLS) {
      const r = fast.find((x) => x.impl === impl && x.n === n);
      if (!r) continue;
      if (r.error) {
        out.push(`| ${n} | ${LABELS[impl].label} | error: ${r.error.split("\n")[0]} ||||||||| |`);
        continue;
      }
      const conv = r.convergedMs === null
        ? `did not converge (min view ${r.minSeen}/${n})`
        : secs(r.convergedMs);
      const all = r.detections.length && r.allDeadMs === null ? "never (30 s)" : ms(r.allDeadMs);
      out.push(
        `| ${n} | ${LABELS[impl].label} | ${conv} | ${ms(r.firstSuspectMs)} | ${
          ms(r.firstDeadMs)
        } | ${all} | ${num(r.cpuPerNodePerSec === null ? null : r.cpuPerNodePerSec * 1000, 2)} | ${
          mib(r.rssPerNodeBytes)
        } | ${num(r.packetsPerNodePerSec)} | ${num(r.bytesPerNodePerSec, 0)} | ${
          r.falseDeadJoin ?? "—"
        } / ${r.falseDead ?? "—"} |`,
      );
    }
  }
  out.push(
    "",
    `Detection columns are medians over ${
      Math.max(0, ...results.runs.map((r) => r.detections.length))
    } kills per run (one at a time); CPU and RSS are the whole process (all n nodes) divided by n, over a ${
      results.runs[0]?.steadySeconds ?? "?"
    } s steady state; packets and bytes are UDP datagrams sent.`,
    "",
  );

  if (lan.length) {
    out.push(
      "The same at memberlist's LAN timing (probe 1 s, timeout 500 ms, gossip 200 ms: the defaults users run), after a 30 s warm-up:",
      "",
      "| n | implementation | converge, s | → all survivors agree, ms | CPU, ms per node per s | CPU vs memberlist | RSS per node, MiB | RSS vs memberlist | packets per node per s | false dead: join / steady |",
      "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    );
    for (const n of [...new Set(lan.map((r) => r.n))].sort((a, b) => a - b)) {
      const g = lan.find((x) => x.impl === "memberlist" && x.n === n && !x.error);
      for (const impl of IMPLS) {
        const r = lan.find((x) => x.impl === impl && x.n === n);
        if (!r) continue;
        if (r.error) {
          out.push(`| ${n} | ${LABELS[impl].label} | error: ${r.error.split("\n")[0]} ||||||| |`);
          continue;
        }
        const all = r.detections.length && r.allDeadMs === null ? "never (30 s)" : ms(r.allDeadMs);
        out.push(
          `| ${n} | ${LABELS[impl].label} | ${
            r.convergedMs === null ? `no (min view ${r.minSeen}/${n})` : secs(r.convergedMs)
          } | ${all} | ${
            num(r.cpuPerNodePerSec === null ? null : r.cpuPerNodePerSec * 1000, 2)
          } | ${times(ratio(r.cpuPerNodePerSec, g?.cpuPerNodePerSec))} | ${
            mib(r.rssPerNodeBytes)
          } | ${times(ratio(r.rssPerNodeBytes, g?.rssPerNodeBytes))} | ${
            num(r.packetsPerNodePerSec)
          } | ${r.falseDeadJoin ?? "—"} / ${r.falseDead ?? "—"} |`,
        );
      }
    }
    out.push("");
  }

  if (large.length) {
    out.push(
      "Large runs (shoal only; memberlist's LAN timing: probe 1 s, timeout 500 ms, gossip 200 ms; nodes started 20 ms apart):",
      "",
      "| n | implementation | all started after, s | then converged, s | CPU, ms per node per s | RSS per node, MiB | peak RSS, MiB | packets per node per s | false dead: join / steady |",
      "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    );
    for (const r of large) {
      out.push(
        `| ${r.n} | ${LABELS[r.impl].label} | ${
          r.error
            ? `error: ${r.error.split("\n")[0]}`
            : num(r.joinMs === null ? null : r.joinMs / 1000)
        } | ${
          r.convergedMs === null ? `no (min view ${r.minSeen}/${r.n})` : secs(r.convergedMs)
        } | ${num(r.cpuPerNodePerSec === null ? null : r.cpuPerNodePerSec * 1000, 2)} | ${
          mib(r.rssPerNodeBytes)
        } | ${mib(r.peakRssBytes)} | ${num(r.packetsPerNodePerSec)} | ${r.falseDeadJoin ?? "—"} / ${
          r.falseDead ?? "—"
        } |`,
      );
    }
    out.push("");
  }

  // Targets.
  const t: string[] = [];
  const shoals: Impl[] = ["shoal-deno", "shoal-bun"];
  for (const s of shoals) {
    const a = find(results, s, 50), g = find(results, "memberlist", 50);
    if (a && g) {
      t.push(
        `| detection (all agree) ≤ 1.0× memberlist at n = 50 | ${LABELS[s].label} | ${
          times(ratio(a.allDeadMs, g.allDeadMs))
        } (${ms(a.allDeadMs)} vs ${ms(g.allDeadMs)} ms) | ${
          verdict(ratio(a.allDeadMs, g.allDeadMs), 1.0)
        } |`,
        `| convergence ≤ 1.0× memberlist at n = 50 | ${LABELS[s].label} | ${
          times(ratio(a.convergedMs, g.convergedMs))
        } (${secs(a.convergedMs)} vs ${secs(g.convergedMs)} s) | ${
          verdict(ratio(a.convergedMs, g.convergedMs), 1.0)
        } |`,
      );
    }
    const b = find(results, s, 200),
      g2 = find(results, "memberlist", 200),
      j = find(results, "swim-js", 200);
    if (b && g2) {
      t.push(
        `| CPU per node ≤ 1.0× memberlist at n = 200 | ${LABELS[s].label} | ${
          times(ratio(b.cpuPerNodePerSec, g2.cpuPerNodePerSec))
        }${unstable(b, g2)} | ${verdict(ratio(b.cpuPerNodePerSec, g2.cpuPerNodePerSec), 1.0)} |`,
      );
    }
    if (b && j) {
      t.push(
        `| CPU per node ≤ 0.2× swim-js at n = 200 | ${LABELS[s].label} | ${
          times(ratio(b.cpuPerNodePerSec, j.cpuPerNodePerSec))
        }${unstable(b, j)} | ${verdict(ratio(b.cpuPerNodePerSec, j.cpuPerNodePerSec), 0.2)} |`,
      );
    }
    const k = results.runs.find((r) => r.impl === s && r.n === 1000 && !r.error);
    if (k && k.convergedMs === null) {
      t.push(
        `| RSS per node ≤ 0.5 MB at n = 1,000 in one process | ${LABELS[s].label} | ${
          ((k.rssPerNodeBytes ?? NaN) / 1e6).toFixed(2)
        } MB, but the cluster did not converge | not measured |`,
      );
    } else if (k) {
      t.push(
        `| RSS per node ≤ 0.5 MB at n = 1,000 in one process | ${LABELS[s].label} | ${
          ((k.rssPerNodeBytes ?? NaN) / 1e6).toFixed(2)
        } MB | ${verdict((k.rssPerNodeBytes ?? NaN) / 1e6, 0.5)} |`,
      );
    }
    const b20 = find(results, s, 20);
    if (b && b20) {
      t.push(
        `| bytes per node per s at n = 200 ≤ 1.3× n = 20 | ${LABELS[s].label} | ${
          times(ratio(b.bytesPerNodePerSec, b20.bytesPerNodePerSec))
        } (${num(b.bytesPerNodePerSec, 0)} vs ${num(b20.bytesPerNodePerSec, 0)}) | ${
          verdict(ratio(b.bytesPerNodePerSec, b20.bytesPerNodePerSec), 1.3)
        } |`,
      );
    }
  }
  const g20 = find(results, "memberlist", 20), g200 = find(results, "memberlist", 200);
  if (g20 && g200) {
    t.push(
      `| (reference) bytes per node per s at n = 200 vs n = 20 | ${LABELS.memberlist.label} | ${
        times(ratio(g200.bytesPerNodePerSec, g20.bytesPerNodePerSec))
      } | — |`,
    );
  }
  if (t.length) {
    out.push(
      "| target (ratios measured in this run) | implementation | measured | met? |",
      "|---|---|---:|---|",
      ...t,
      "",
    );
  }
  out.push(
    "![kill → all survivors agree vs n](perf-detection.svg)",
    "![CPU per node vs n](perf-cpu.svg)",
    "![bytes per node per second vs n](perf-bytes.svg)",
    "![convergence time vs n](perf-convergence.svg)",
  );
  return out.join("\n");
}

/** A note when either side of a ratio did not converge (a melting cluster burns CPU). */
function unstable(a: Run, b: Run): string {
  const bad = [a, b].filter((r) => r.convergedMs === null).map((r) => LABELS[r.impl].label);
  return bad.length ? ` (did not converge: ${bad.join(", ")})` : "";
}

function verdict(r: number | null, limit: number): string {
  if (r === null || !Number.isFinite(r)) return "not measured";
  return r <= limit ? "**met**" : "**missed**";
}

/** The four plots. */
export function plots(results: ClusterResults): Record<string, string> {
  const impls = IMPLS.filter((i) => results.runs.some((r) => r.impl === i));
  const series = (f: (r: Run) => number | null) =>
    impls.map((impl) => ({
      name: LABELS[impl].label,
      color: LABELS[impl].color,
      points: results.runs.filter((r) => r.impl === impl && !r.error && r.timing !== "lan")
        .sort((a, b) => a.n - b.n)
        .map((r) => ({ x: r.n, y: f(r), hollow: r.convergedMs === null })),
    }));
  const note = `${results.machine.nproc} CPUs, ${
    results.machine.date.slice(0, 10)
  }; n nodes in one process; hollow: did not converge`;
  return {
    "perf-detection.svg": lineChart({
      title: "Kill → all survivors hold the node dead (median)",
      note,
      xLabel: "cluster size n",
      yLabel: "ms",
      logX: true,
      series: series((r) => r.allDeadMs),
    }),
    "perf-cpu.svg": lineChart({
      title: "CPU per node (steady state)",
      note,
      xLabel: "cluster size n",
      yLabel: "CPU ms per node per second",
      logX: true,
      series: series((r) => r.cpuPerNodePerSec === null ? null : r.cpuPerNodePerSec * 1000),
    }),
    "perf-bytes.svg": lineChart({
      title: "UDP bytes sent per node per second (steady state)",
      note,
      xLabel: "cluster size n",
      yLabel: "bytes per node per second",
      logX: true,
      series: series((r) => r.bytesPerNodePerSec),
    }),
    "perf-convergence.svg": lineChart({
      title: "Start → every node sees all n",
      note,
      xLabel: "cluster size n",
      yLabel: "seconds",
      logX: true,
      series: series((r) => r.convergedMs === null ? null : r.convergedMs / 1000),
    }),
  };
}

/** Print-ready Markdown; with `docs`, also write the plots and update docs/performance.md. */
export function writeReport(results: ClusterResults, options: { docs: boolean }): string {
  const md = markdown(results);
  if (options.docs) {
    for (const [file, svg] of Object.entries(plots(results))) writeFileSync(`${DOCS}${file}`, svg);
    const doc = `${DOCS}performance.md`;
    if (existsSync(doc)) {
      const text = readFileSync(doc, "utf8");
      const a = text.indexOf(BEGIN), b = text.indexOf(END);
      if (a >= 0 && b > a) {
        writeFileSync(doc, `${text.slice(0, a + BEGIN.length)}\n${md}\n${text.slice(b)}`);
      }
    }
  }
  return md;
}

if (import.meta.main) {
  const file = process.argv[2] ??
    new URL("../results/cluster.json", import.meta.url).pathname;
  const results = JSON.parse(readFileSync(file, "utf8")) as ClusterResults;
  console.log(writeReport(results, { docs: true }));
}
