/**
 * The agent's data directory: `peers.json` remembers the members it knew, so a restarted
 * agent rejoins them without `--join` (as serf's snapshot does). The node's name and
 * incarnation live next to it, in the node's own state file.
 *
 * File format: `{"version": 1, "name": "<local name>", "peers": ["host:port", ...]}`, at
 * most {@linkcode PEERS_LIMIT} peers, written atomically and fsync'd.
 *
 * @module
 */

import { join } from "node:path";
import { formatAddress, parseAddress } from "../core/address.ts";
import type { Member } from "../core/member.ts";
import type { ClusterView } from "../http/view.ts";
import { type DataDirFs, type DataDirProblem, defaultFs, writeDurably } from "../node/persist.ts";

/** The name of the peers file in a data directory. */
export const PEERS_FILE = "peers.json";
/** At most this many peers are saved and read back. */
export const PEERS_LIMIT = 256;
/** Writes are batched: at most one per this many ms. */
const WRITE_DELAY_MS = 1000;

/** Options of {@linkcode readPeers} and {@linkcode PeerSnapshot.open}. */
export interface PeersFileOptions {
  /** Told about an unusable peers file (then ignored) or a failed write. */
  readonly onProblem?: (problem: DataDirProblem) => void;
  /** File operations (default: the runtime's). */
  readonly fs?: DataDirFs;
}

/**
 * The peers saved in `dir` (at most {@linkcode PEERS_LIMIT}, each a valid `host:port`), or
 * none when there is no usable snapshot. An unreadable, empty or corrupt file is reported to
 * `onProblem` and ignored; so are entries that are not addresses.
 *
 * @example
 * ```ts ignore
 * const seeds = await readPeers("/var/lib/shoal"); // ["10.0.0.2:7946", ...]
 * ```
 */
export async function readPeers(dir: string, options: PeersFileOptions = {}): Promise<string[]> {
  const fs = options.fs ?? defaultFs;
  const path = join(dir, PEERS_FILE);
  const report = (reason: string) => options.onProblem?.({ path, reason });
  let text: string;
  try {
    text = await fs.readFile(path, "utf8");
  } catch (err) {
    if ((err as { code?: string }).code !== "ENOENT") report(`cannot read: ${err}`);
    return [];
  }
  if (text.trim() === "") {
    report("the file is empty");
    return [];
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    report(`not JSON (${(err as Error).message})`);
    return [];
  }
  const list = (data as { peers?: unknown } | null)?.peers;
  if (!Array.isArray(list)) {
    report("not a peers file (no peers list)");
    return [];
  }
  const peers = new Set<string>();
  let dropped = 0, i = 0;
  for (; i < list.length && peers.size < PEERS_LIMIT; i++) {
    const entry = list[i];
    if (typeof entry === "string" && isAddress(entry)) peers.add(entry);
    else dropped++;
  }
  if (dropped > 0) report(`${dropped} entries are not host:port addresses`);
  if (i < list.length) report(`${list.length} entries: only ${PEERS_LIMIT} peers are used`);
  return [...peers];
}

function isAddress(text: string): boolean {
  try {
    parseAddress(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * The peers to save from `members` (the local one excluded): alive before suspect, then the
 * longest known first (`knownSince`, smaller is older), at most {@linkcode PEERS_LIMIT}.
 * Members that joined later, such as fakes injected into a running cluster, go last.
 */
export function choosePeers(
  localName: string,
  members: readonly Member[],
  knownSince: (name: string) => number,
  limit: number = PEERS_LIMIT,
): string[] {
  const rank = (m: Member) => m.state === "alive" ? 0 : 1;
  const chosen = new Set<string>();
  const candidates = members
    .filter((m) => m.name !== localName && (m.state === "alive" || m.state === "suspect"))
    .sort((a, b) =>
      rank(a) - rank(b) || knownSince(a.name) - knownSince(b.name) ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
    );
  for (const m of candidates) {
    if (chosen.size === limit) break;
    chosen.add(formatAddress({ host: m.address, port: m.port }));
  }
  return [...chosen];
}

/** Keeps `peers.json` in `dir` up to date with the live members of a view. */
export class PeerSnapshot {
  readonly #dir: string;
  readonly #view: ClusterView;
  readonly #fs: DataDirFs;
  readonly #onProblem: ((problem: DataDirProblem) => void) | undefined;
  readonly #stop: () => void;
  /** When each live member was first heard of, as an event count. */
  readonly #since = new Map<string, number>();
  #seq = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #writing: Promise<void> = Promise.resolve();

  private constructor(dir: string, view: ClusterView, options: PeersFileOptions) {
    this.#dir = dir;
    this.#view = view;
    this.#fs = options.fs ?? defaultFs;
    this.#onProblem = options.onProblem;
    this.#stop = view.onEvent((event) => {
      const m = event.member;
      if (m.state === "alive" || m.state === "suspect") {
        if (!this.#since.has(m.name)) this.#since.set(m.name, this.#seq++);
      } else {
        this.#since.delete(m.name);
      }
      this.#schedule();
    });
  }

  /** Create `dir` if needed and start saving `view`'s peers there. */
  static async open(
    dir: string,
    view: ClusterView,
    options: PeersFileOptions = {},
  ): Promise<PeerSnapshot> {
    await (options.fs ?? defaultFs).mkdir(dir, { recursive: true });
    return new PeerSnapshot(dir, view, options);
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
   * Write the current peers now (see {@linkcode choosePeers}). With no live peer the file is
   * left as it is: the last members known are the best bet for rejoining. A failed write is
   * reported to `onProblem` and rejects.
   */
  flush(): Promise<void> {
    const members = this.#view.members();
    const live = new Set(members.map((m) => m.name));
    for (const name of this.#since.keys()) if (!live.has(name)) this.#since.delete(name);
    const since = (name: string) => this.#since.get(name) ?? this.#seq;
    const peers = choosePeers(this.#view.name, members, since);
    if (peers.length === 0) return this.#writing;
    const body = JSON.stringify({ version: 1, name: this.#view.name, peers }, null, 2) + "\n";
    const path = join(this.#dir, PEERS_FILE);
    this.#writing = this.#writing.catch(() => {}).then(async () => {
      try {
        await writeDurably(path, body, this.#fs);
      } catch (err) {
        this.#onProblem?.({ path, reason: `cannot write: ${err}` });
        throw err;
      }
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
