/**
 * The optional data directory: remembers a node's name and incarnation across restarts, so
 * a restarted node outranks everything its previous life said.
 *
 * @module
 */

import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** What a data directory holds. */
export interface PersistedState {
  /** The node's name. */
  readonly name: string;
  /** The last incarnation the node used. */
  readonly incarnation: number;
}

const FILE = "shoal-state.json";

/** Read the state in `dir`, or undefined when there is none yet. Throws on a corrupt file. */
export async function loadState(dir: string): Promise<PersistedState | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, FILE), "utf8");
  } catch (err) {
    if ((err as { code?: string }).code === "ENOENT") return undefined;
    throw err;
  }
  const data = JSON.parse(text) as Partial<PersistedState>;
  if (typeof data.name !== "string" || !Number.isInteger(data.incarnation)) {
    throw new Error(`${join(dir, FILE)} is not a shoal state file`);
  }
  return { name: data.name, incarnation: data.incarnation! };
}

/** Write the state to `dir` atomically (write a temporary file, then rename). */
export async function saveState(dir: string, state: PersistedState): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `${FILE}.tmp`);
  await writeFile(tmp, JSON.stringify(state) + "\n");
  await rename(tmp, join(dir, FILE));
}

/**
 * The incarnation to start with: the wall clock in seconds (so a restart outranks a previous
 * life that refuted fewer times than it lived seconds), and above anything persisted.
 */
export function startingIncarnation(nowMs: number, persisted?: PersistedState): number {
  const clock = Math.max(1, Math.floor(nowMs / 1000)) >>> 0;
  return persisted ? Math.max(clock, (persisted.incarnation + 1) >>> 0) : clock;
}
