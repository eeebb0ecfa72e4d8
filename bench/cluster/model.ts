/**
 * Shapes of the cluster benchmark's results (bench/results/cluster.json).
 *
 * @module
 */
import type { Machine } from "../machine.ts";

/** The implementations compared. */
export const IMPLS = ["shoal-deno", "shoal-bun", "memberlist", "swim-js"] as const;
/** One of {@linkcode IMPLS}. */
export type Impl = typeof IMPLS[number];

/** Labels and colours for tables and plots. */
export const LABELS: Record<Impl, { label: string; color: string }> = {
  "shoal-deno": { label: "shoal (Deno)", color: "#1f77b4" },
  "shoal-bun": { label: "shoal (Bun)", color: "#ff7f0e" },
  memberlist: { label: "memberlist 0.2.2 (Go)", color: "#2ca02c" },
  "swim-js": { label: "swim-js 0.6.0 (Node)", color: "#d62728" },
};

/** One killed node's detection, in ms from the kill (null: did not happen within 30 s). */
export interface Detection {
  readonly firstSuspectMs: number | null;
  readonly firstDeadMs: number | null;
  readonly allDeadMs: number | null;
}

/** One implementation at one cluster size. */
export interface Run {
  impl: Impl;
  n: number;
  /** Last node started → every node sees all n (null: not within the timeout). */
  convergedMs: number | null;
  /** First node started → last node started. */
  joinMs: number | null;
  /** Smallest view (members not dead) when convergence was reported. */
  minSeen: number | null;
  steadySeconds: number;
  cpuSeconds: number | null;
  cpuPerNodePerSec: number | null;
  rssBytes: number | null;
  rssPerNodeBytes: number | null;
  peakRssBytes: number | null;
  packetsPerNodePerSec: number | null;
  bytesPerNodePerSec: number | null;
  /** Dead declarations of live members during the steady state. */
  falseDead: number | null;
  /** Suspicions of live members during the steady state (not reported by the Go driver). */
  falseSuspect: number | null;
  /** Dead declarations of live members from the first start to the steady state (the join). */
  falseDeadJoin: number | null;
  detections: Detection[];
  /** Medians over `detections`. */
  firstSuspectMs: number | null;
  firstDeadMs: number | null;
  allDeadMs: number | null;
  /** "fast": the shared TIMING; "lan": memberlist's LAN preset. */
  timing: "fast" | "lan";
  /** A large run of shoal alone (absent in older files, where every LAN run was one). */
  big?: boolean;
  /** 1-minute load average before and after the run (other work on the machine). */
  loadBefore: number;
  loadAfter: number | null;
  error: string | null;
}

/** The whole file. */
export interface ClusterResults {
  readonly machine: Machine;
  readonly command: string;
  readonly wallSeconds: number;
  readonly timing: Record<string, unknown>;
  readonly skipped: Partial<Record<Impl, string>>;
  readonly runs: Run[];
}

/** Is `run` one of the large shoal-only runs? */
export function isBig(run: Run): boolean {
  return run.big ?? run.timing === "lan";
}
