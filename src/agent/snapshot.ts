/**
 * The agent's data directory: `peers.json` remembers the members it knew, so a restarted
 * agent rejoins them without `--join` (as serf's snapshot does). The node's name and
 * incarnation live next to it, in the node's own state file.
 *
 * File format: `{"version": 1, "name": "<local name>", "peers": ["host:port", ...]}`.
 *
 * @module
 */

import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { formatAddress } from "../core/address.ts";
import type { ClusterView } from "../http/view.ts";

const FILE = "peers.json";
/** Writes are batched: at most one per this many ms. */
const WRITE_DELAY_MS = 1000;

/**
 * The peers saved in `dir`, or none when there is no (readable) snapshot.
 *
 * @example
 * ```ts ignore
 * const seeds = await readPeers("/var/lib/shoal"); // ["10.0.0.2:7946", ...]
 * ```
 */
export async function readPeers(dir: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(join(dir, FILE), "utf8");
  } catch {
    return [];
  }
  try {
    const data = JSON.parse(text) as { peers?: unknown };
    return Array.isArray(data.peers)
      ? data.peers.filter((p): p is string => typeof p === "string")
      : [];
  } catch {
    return [];
  }
}

/** Keeps `peers.json` in `dir` up to date with the live members of a view. */
export class PeerSnapshot {
  readonly #dir: string;
  readonly #view: ClusterView;
  readonly #stop: () => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #writing: Promise<void> = Promise.resolve();

  private constructor(dir: string, view: ClusterView) {
    this.#dir = dir;
    this.#view = view;
    this.#stop = view.onEvent(() => this.#schedule());
  }

  /** Create `dir` if needed and start saving `view`'s peers there. */
  static async open(dir: string, view: ClusterView): Promise<PeerSnapshot> {
    await mkdir(dir, { recursive: true });
    return new PeerSnapshot(dir, view);
  }

  #schedule(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.flush().catch(() => {});
    }, WRITE_DELAY_MS);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  /**
   * Write the current peers now. With no live peer the file is left as it is: the last
   * members known are the best bet for rejoining.
   */
  flush(): Promise<void> {
    const peers = this.#view.members()
      .filter((m) => m.name !== this.#view.name && (m.state === "alive" || m.state === "suspect"))
      .map((m) => formatAddress({ host: m.address, port: m.port }))
      .sort();
    if (peers.length === 0) return this.#writing;
    const body = JSON.stringify({ version: 1, name: this.#view.name, peers }, null, 2) + "\n";
    const path = join(this.#dir, FILE);
    this.#writing = this.#writing.catch(() => {}).then(async () => {
      await writeFile(`${path}.tmp`, body);
      await rename(`${path}.tmp`, path);
    });
    return this.#writing;
  }

  /** Stop watching and write one last time. */
  async close(): Promise<void> {
    this.#stop();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.flush().catch(() => {});
  }
}
