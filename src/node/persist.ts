/**
 * The optional data directory: remembers a node's name and incarnation across restarts, so
 * a restarted node outranks everything its previous life said. Writes are atomic and
 * fsync'd; a file that cannot be read back is reported and treated as no state.
 *
 * @module
 */

import * as nodeFs from "node:fs/promises";
import { dirname, join } from "node:path";
import { MAX_INCARNATION } from "../core/precedence.ts";

/** What a data directory holds. */
export interface PersistedState {
  /** The node's name. */
  readonly name: string;
  /** The last incarnation the node used (0 when unknown). */
  readonly incarnation: number;
}

/** A file in the data directory that was unusable and ignored. */
export interface DataDirProblem {
  /** The file's path. */
  readonly path: string;
  /** What is wrong with it. */
  readonly reason: string;
}

/** An open file, as much of `node:fs/promises`' `FileHandle` as the writes use. */
export interface SyncableFile {
  /** Write `data` to the file. */
  writeFile(data: string): Promise<void>;
  /** Flush the file (or directory) to storage (fsync). */
  sync(): Promise<void>;
  /** Close the file. */
  close(): Promise<void>;
}

/** The file operations of the data directory; `node:fs/promises` by default. */
export interface DataDirFs {
  /** Create a directory and its parents. */
  mkdir(path: string, options: { recursive: true }): Promise<unknown>;
  /** Read a whole file as text. */
  readFile(path: string, encoding: "utf8"): Promise<string>;
  /** Open a file (`"w"`) or a directory (`"r"`). */
  open(path: string, flags: "w" | "r"): Promise<SyncableFile>;
  /** Rename a file, replacing the target. */
  rename(from: string, to: string): Promise<void>;
}

/** The runtime's file system. */
export const defaultFs: DataDirFs = nodeFs as unknown as DataDirFs;

/** The name of the state file in a data directory. */
export const STATE_FILE = "shoal-state.json";

/** Options of {@linkcode loadState}. */
export interface LoadStateOptions {
  /** Told about a state file that is unusable (then treated as no state). */
  readonly onProblem?: (problem: DataDirProblem) => void;
  /** File operations (default: the runtime's). */
  readonly fs?: DataDirFs;
}

/**
 * Read the state in `dir`, or undefined when there is none. An empty or corrupt file is
 * reported to `onProblem` and treated as none; a file whose name is readable but whose
 * incarnation is not keeps the name, with incarnation 0. Other read errors (permissions, a
 * directory in the file's place) are thrown.
 */
export async function loadState(
  dir: string,
  options: LoadStateOptions = {},
): Promise<PersistedState | undefined> {
  const fs = options.fs ?? defaultFs;
  const path = join(dir, STATE_FILE);
  const report = (reason: string) => options.onProblem?.({ path, reason });
  let text: string;
  try {
    text = await fs.readFile(path, "utf8");
  } catch (err) {
    if ((err as { code?: string }).code === "ENOENT") return undefined;
    throw err;
  }
  if (text.trim() === "") {
    report("the file is empty");
    return undefined;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    report(`not JSON (${(err as Error).message})`);
    return undefined;
  }
  const record = typeof data === "object" && data !== null
    ? data as { name?: unknown; incarnation?: unknown }
    : {};
  if (typeof record.name !== "string" || record.name === "") {
    report("not a shoal state file (no name)");
    return undefined;
  }
  const inc = record.incarnation;
  if (typeof inc !== "number" || !Number.isInteger(inc) || inc < 0 || inc > MAX_INCARNATION) {
    report("the incarnation is not a 32-bit unsigned integer");
    return { name: record.name, incarnation: 0 };
  }
  return { name: record.name, incarnation: inc };
}

/**
 * Write the state to `dir` (created if needed), atomically and durably (see
 * {@linkcode writeDurably}); the last of several overlapping saves wins.
 */
export async function saveState(
  dir: string,
  state: PersistedState,
  fs: DataDirFs = defaultFs,
): Promise<void> {
  const path = join(dir, STATE_FILE);
  const body = JSON.stringify(state) + "\n";
  await inTurn(path, async () => {
    await fs.mkdir(dir, { recursive: true });
    return await writeNow(path, body, fs);
  });
}

/**
 * Replace the file at `path` with `body` so that a crash leaves the old or the new content:
 * write `path.tmp`, fsync it, rename it over `path`, fsync the directory. Writes to one path
 * run one at a time, in call order. Resolves to whether the directory was fsync'd (false
 * where the runtime or file system cannot open or sync a directory).
 */
export function writeDurably(
  path: string,
  body: string,
  fs: DataDirFs = defaultFs,
): Promise<boolean> {
  return inTurn(path, () => writeNow(path, body, fs));
}

const queues = new Map<string, Promise<unknown>>();

/** Run `op` after every earlier operation on `path` has settled. */
function inTurn<T>(path: string, op: () => Promise<T>): Promise<T> {
  const previous = queues.get(path) ?? Promise.resolve();
  const run = previous.catch(() => {}).then(op);
  queues.set(path, run);
  const forget = () => {
    if (queues.get(path) === run) queues.delete(path);
  };
  run.then(forget, forget);
  return run;
}

async function writeNow(path: string, body: string, fs: DataDirFs): Promise<boolean> {
  const tmp = `${path}.tmp`;
  const file = await fs.open(tmp, "w");
  try {
    await file.writeFile(body);
    await file.sync();
  } finally {
    await file.close();
  }
  await fs.rename(tmp, path);
  return await syncDirectory(dirname(path), fs);
}

/** Errors that mean "directories cannot be fsync'd here", not "the data is at risk". */
const UNSUPPORTED = new Set(["EISDIR", "EINVAL", "ENOTSUP", "EOPNOTSUPP", "EPERM", "EBADF"]);

async function syncDirectory(dir: string, fs: DataDirFs): Promise<boolean> {
  let handle: SyncableFile;
  try {
    handle = await fs.open(dir, "r");
  } catch {
    return false; // the runtime refuses to open a directory
  }
  try {
    await handle.sync();
    return true;
  } catch (err) {
    if (UNSUPPORTED.has((err as { code?: string }).code ?? "")) return false;
    throw err;
  } finally {
    await handle.close().catch(() => {});
  }
}

/**
 * The incarnation to start with: the wall clock in seconds (so a restart outranks a previous
 * life that refuted fewer times than it lived seconds), and above anything persisted (or at
 * the last incarnation, where the core's saturates).
 */
export function startingIncarnation(nowMs: number, persisted?: PersistedState): number {
  const clock = Math.max(1, Math.floor(nowMs / 1000)) >>> 0;
  return persisted ? Math.max(clock, Math.min(persisted.incarnation + 1, MAX_INCARNATION)) : clock;
}
