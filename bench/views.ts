/**
 * Settled views in the simulator: how many distinct views each member's `views()` emits while
 * a cluster bootstraps, and how soon a crash afterwards reaches them. Members start
 * `--spacing` ms apart through the first, LAN timing (`resolveConfig("lan")`); every member
 * runs one settled-view subscription per `--settings` pair `settle/maxDelay` (from its start,
 * first view at once). After the last start the run goes on until the cluster has converged
 * and every view has settled; then one member crashes, and for every survivor the delay from
 * its `dead` event to the first view without the crashed member is measured. Virtual time:
 * the figures are deterministic for a seed.
 *
 *   deno run -A bench/views.ts [--sizes 1000,2000] [--settings 2000/10000,5000/15000] [--seed 1]
 *
 * On a 2-core machine 1,000 members take about 2 minutes, 2,000 about 15–20 (and 10 GB).
 * Measured (seed 1): at 1,000, 2 s / 10 s gives 2.6 views per member on average, 5 at most
 * (5 s / 15 s: 2.3 and 3); at 2,000, 4.4 and 8 (5 s / 15 s: 3.3 and 6; 13 minutes). With churn
 * syncs spread over log2(n + 1) probe intervals instead of 2: 2.7 / 5 at 1,000, 4.6 / 9 at
 * 2,000. Before the bootstrap change (a joiner no longer gossips the table it receives; a burst
 * of joins ends in one sync): 2.9 / 7 at 1,000 (2 s / 10 s), 5.3 / 11 and 3.8 / 7 at 2,000.
 *
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { mergeRows } from "./_results.ts";
import { createMemberlistCodec, resolveConfig, type ViewOptions } from "../mod.ts";
import { Simulator } from "../src/sim/mod.ts";

/** What one bootstrap and crash measured, for one view setting. */
export interface ViewFigures {
  /** The setting. */
  readonly options: ViewOptions;
  /** Raw view changes per member during the bootstrap (membership events that alter a view). */
  readonly rawPerMember: { readonly mean: number; readonly max: number };
  /**
   * Distinct views per member during the bootstrap (the first, at start, included; the member
   * crashed during the bootstrap left out).
   */
  readonly viewsPerMember: { readonly mean: number; readonly max: number };
  /** Members whose last bootstrap view does not hold every member. */
  readonly incomplete: number;
  /**
   * A crash during the bootstrap (while joins keep changing the views): for each member that
   * declared the crashed one dead, the delay from its `dead` event to its view without it.
   */
  readonly crashDuring: CrashFigures;
  /** The crash after the bootstrap: the same delays. */
  readonly crash: CrashFigures;
}

/** Delays from `dead` events to the views without the crashed member. */
export interface CrashFigures {
  /** Members that declared the crashed one dead after a view of theirs had shown it. */
  readonly observers: number;
  /** Of those, the ones whose view dropped it. */
  readonly reported: number;
  /** Longest delay, ms. */
  readonly maxDelayMs: number;
  /** Mean delay, ms. */
  readonly meanDelayMs: number;
}

/** The result of {@linkcode measureViews}. */
export interface ViewRun {
  /** Members. */
  readonly n: number;
  /** Virtual ms from the last start until converged and every view settled. */
  readonly settledAfterLastStartMs: number;
  /** One entry per setting. */
  readonly figures: readonly ViewFigures[];
}

/**
 * Bootstrap `n` members `spacing` ms apart with one settled-view subscription per setting,
 * crashing one member a fifth of the way through the starts and another once the cluster has
 * settled, and time how their deaths reach the views. Deterministic for `seed`.
 */
export function measureViews(
  n: number,
  settings: readonly ViewOptions[],
  options: { seed?: number; spacing?: number; limit?: number } = {},
): ViewRun {
  const spacing = options.spacing ?? 20;
  const limit = options.limit ?? 120_000;
  const sim = new Simulator({
    seed: options.seed ?? 1,
    config: resolveConfig("lan"),
    codec: createMemberlistCodec({ compress: true }),
  });
  interface Track {
    views: number;
    raw: number;
    lastSize: number;
    lastAt: number;
  }
  const tracks = settings.map(() => new Map<string, Track>());
  const early = `n${Math.floor(n / 10)}`, late = `n${Math.floor(n / 2)}`;
  // Per setting and victim: member → time of its first view without the victim.
  const dropped = settings.map(() => ({ early: new Map<string, number>(), late: new Map() }));
  // Per setting and victim: the members whose views held the victim at some point.
  const held = settings.map(() => ({ early: new Set<string>(), late: new Set<string>() }));
  let bootstrapping = true;
  const stops = settings.map((setting, i) =>
    sim.watchViews(setting, (node, view) => {
      if (bootstrapping) {
        const t = tracks[i].get(node) ?? { views: 0, raw: 0, lastSize: 0, lastAt: 0 };
        t.views++;
        t.raw += view.changes;
        t.lastSize = view.members.length;
        t.lastAt = view.at;
        tracks[i].set(node, t);
      }
      for (const key of ["early", "late"] as const) {
        const victim = key === "early" ? early : late;
        if (view.added.includes(victim)) held[i][key].add(node);
        if (view.removed.includes(victim) && !dropped[i][key].has(node)) {
          dropped[i][key].set(node, view.at);
        }
      }
    })
  );
  for (let i = 0; i < n; i++) {
    sim.addNode(`n${i}`);
    if (i === Math.floor(n / 5)) sim.kill(early);
    sim.runFor(spacing);
  }
  const lastStart = sim.clock.now();
  const maxDelay = Math.max(...settings.map((s) => s.maxDelay ?? 5000));
  // Converged, and no view emitted for maxDelay: every subscription has settled.
  const quiet = () =>
    tracks.every((t) => [...t.values()].every((x) => sim.clock.now() - x.lastAt > maxDelay));
  sim.runUntil(() => sim.converged() && quiet(), limit, 500);
  const settledAfterLastStartMs = sim.clock.now() - lastStart;
  bootstrapping = false;

  sim.kill(late);
  const survivors = sim.running().length;
  sim.runUntil(() => dropped.every((d) => d.late.size === survivors), limit, 500);
  stops.forEach((stop) => stop());
  // Victim → member → when it declared the victim dead.
  const deadAt = { early: new Map<string, number>(), late: new Map<string, number>() };
  for (const e of sim.events) {
    const map = e.member === early ? deadAt.early : e.member === late ? deadAt.late : undefined;
    if (e.type === "dead" && map && !map.has(e.observer) && sim.node(e.observer).running) {
      map.set(e.observer, e.at);
    }
  }

  const stat = (xs: number[]) => ({
    mean: xs.reduce((a, b) => a + b, 0) / xs.length,
    max: Math.max(...xs),
  });
  const crash = (
    dead: Map<string, number>,
    had: Set<string>,
    views: Map<string, number>,
  ): CrashFigures => {
    const delays: number[] = [];
    let observers = 0;
    for (const [name, at] of dead) {
      if (!had.has(name)) continue; // it joined and died between two views: never shown
      observers++;
      const v = views.get(name);
      if (v !== undefined) delays.push(v - at);
    }
    const s = delays.length ? stat(delays) : { mean: NaN, max: NaN };
    return {
      observers,
      reported: delays.length,
      maxDelayMs: s.max,
      meanDelayMs: s.mean,
    };
  };
  const figures = settings.map((setting, i): ViewFigures => {
    const all = [...tracks[i]].filter(([name]) => name !== early).map(([, t]) => t);
    return {
      options: setting,
      rawPerMember: stat(all.map((t) => t.raw)),
      viewsPerMember: stat(all.map((t) => t.views)),
      // Every member but the one crashed during the bootstrap.
      incomplete: all.filter((t) => t.lastSize !== n - 1).length,
      crashDuring: crash(deadAt.early, held[i].early, dropped[i].early),
      crash: crash(deadAt.late, held[i].late, dropped[i].late),
    };
  });
  return { n, settledAfterLastStartMs, figures };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      sizes: { type: "string", default: "1000,2000" },
      settings: { type: "string", default: "2000/10000,5000/15000" },
      spacing: { type: "string", default: "20" },
      seed: { type: "string", default: "1" },
      // Merge the rows into this JSON file (bench/scale_plots.ts reads bench/results/views.json).
      json: { type: "string" },
    },
  });
  const settings = values.settings.split(",").map((s) => {
    const [settle, maxDelay] = s.split("/").map(Number);
    return { settle, maxDelay };
  });
  const spacing = Number(values.spacing);
  const crash = (c: CrashFigures) =>
    `${c.reported} of ${c.observers} | ${c.meanDelayMs.toFixed(0)} / ${c.maxDelayMs.toFixed(0)}`;
  console.log(
    `Settled views in the simulator: members started ${spacing} ms apart through the first, ` +
      `LAN timing, seed ${values.seed}; views counted from each member's start until the ` +
      `cluster converged and every view settled; one member crashes a fifth of the way through the starts, another after.\n`,
  );
  console.log(
    "| n | settle / maxDelay, ms | raw changes per member, mean / max | views per member, mean / max | last view incomplete | crash during: reported | dead → view, mean / max ms | crash after: reported | dead → view, mean / max ms | wall s |",
  );
  console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const n of values.sizes.split(",").map(Number)) {
    const t0 = performance.now();
    const run = measureViews(n, settings, { seed: Number(values.seed), spacing });
    const wall = (performance.now() - t0) / 1000;
    for (const f of run.figures) {
      console.log(
        `| ${n} | ${f.options.settle} / ${f.options.maxDelay} | ${
          f.rawPerMember.mean.toFixed(0)
        } / ${f.rawPerMember.max} | ${
          f.viewsPerMember.mean.toFixed(1)
        } / ${f.viewsPerMember.max} | ${f.incomplete} | ${crash(f.crashDuring)} | ${
          crash(f.crash)
        } | ${wall.toFixed(1)} |`,
      );
    }
    console.log(
      `|  | settled ${run.settledAfterLastStartMs} ms after the last start |  |  |  |  |  |  |`,
    );
    if (values.json) {
      mergeRows(
        values.json,
        ["n", "settle", "maxDelay", "seed", "spacing"],
        run.figures.map((f) => ({
          n,
          settle: f.options.settle,
          maxDelay: f.options.maxDelay,
          seed: Number(values.seed),
          spacing,
          rawPerMember: f.rawPerMember,
          viewsPerMember: f.viewsPerMember,
          crashMaxDelayMs: Math.max(f.crash.maxDelayMs, f.crashDuring.maxDelayMs),
          measured: new Date().toISOString(),
        })),
      );
    }
  }
}
