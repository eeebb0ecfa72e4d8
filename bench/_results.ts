/**
 * Results files of the benchmarks: rows merged into a JSON file by key, so runs of single
 * sizes add up to one table.
 *
 * @module
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { machine } from "./machine.ts";

/** One result row: plain JSON values. */
export type Row = Record<string, unknown>;

/** The rows of a results file (empty when there is none). */
export function readRows(path: string): Row[] {
  if (!existsSync(path)) return [];
  const data = JSON.parse(readFileSync(path, "utf8")) as { rows?: Row[] };
  return Array.isArray(data.rows) ? data.rows : [];
}

/** Write `rows` into `path`, replacing the rows that agree with one on every field of `key`. */
export function mergeRows(path: string, key: readonly string[], rows: readonly Row[]): void {
  const same = (a: Row, b: Row) => key.every((k) => JSON.stringify(a[k]) === JSON.stringify(b[k]));
  const kept = readRows(path).filter((old) => !rows.some((r) => same(old, r)));
  const all = [...kept, ...rows].sort((a, b) => Number(a.n) - Number(b.n));
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify({ machine: machine(), rows: all }, null, 2) + "\n");
}
