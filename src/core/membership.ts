/**
 * The membership table: every member this node knows (itself included), and the shuffled
 * round-robin probe order (protocol.md §8.1). Storage and selection only; the rules that change
 * a member's state live in `rumours.ts`, judged by `precedence.ts`.
 *
 * @module
 */

import { isActive, type MemberRecord, type MemberState } from "./member.ts";
import { randomInt, type Rng, shuffle } from "./rng.ts";

/** The table of members plus the probe ring. */
export class MemberTable {
  readonly #members = new Map<string, MemberRecord>();
  /**
   * Probe order: every record but our own, walked round-robin, reshuffled at each wrap.
   * Records leave the table only at a wrap, so the ring always holds exactly the table.
   */
  #ring: MemberRecord[] = [];
  #cursor = 0;
  /** Suspects to probe before resuming the round-robin (bounded). */
  #urgent: string[] = [];
  #urgentTurn = false;
  readonly #rng: Rng;
  readonly #self: string;

  /** A table for the local member `self`. */
  constructor(self: string, rng: Rng) {
    this.#self = self;
    this.#rng = rng;
  }

  /** Number of entries, self and not-yet-reaped dead included (memberlist's estimate of n). */
  get size(): number {
    return this.#members.size;
  }

  /** The record for `name`, if known. */
  get(name: string): MemberRecord | undefined {
    return this.#members.get(name);
  }

  /** All records. */
  values(): IterableIterator<MemberRecord> {
    return this.#members.values();
  }

  /** Add a new record at a random position of the probe ring. */
  add(record: MemberRecord): void {
    record.host = sharedHost(record.host);
    this.#members.set(record.name, record);
    if (record.name === this.#self) return;
    const at = randomInt(this.#rng, this.#ring.length + 1);
    this.#ring.splice(at, 0, record);
    if (at < this.#cursor) this.#cursor++;
  }

  /**
   * Add many new records at once (names already known are skipped), then shuffle the whole
   * probe ring: O(n), where adding one by one costs O(n²).
   */
  addAll(records: readonly MemberRecord[]): void {
    for (const record of records) {
      if (this.#members.has(record.name)) continue;
      record.host = sharedHost(record.host);
      this.#members.set(record.name, record);
      if (record.name !== this.#self) this.#ring.push(record);
    }
    shuffle(this.#rng, this.#ring);
    this.#cursor = 0;
  }

  /**
   * Probe `name` next (once), ahead of the round-robin: a member others suspect is checked
   * first-hand quickly, so a real failure collects its confirmations in one probe period.
   */
  probeSoon(name: string): void {
    if (this.#urgent.length < 64 && !this.#urgent.includes(name)) this.#urgent.push(name);
  }

  /** Count members in `state` (self included). */
  count(state: MemberState): number {
    let n = 0;
    for (const m of this.#members.values()) if (m.state === state) n++;
    return n;
  }

  /**
   * The next member to probe: round-robin over the ring, skipping dead and left members.
   * At each wrap, `reap` removes stale entries and the ring is reshuffled.
   */
  nextProbeTarget(reap: (m: MemberRecord) => boolean): MemberRecord | undefined {
    // Alternate urgent and round-robin probes, so the round-robin is never starved.
    this.#urgentTurn = !this.#urgentTurn;
    while (this.#urgentTurn && this.#urgent.length > 0) {
      const m = this.#members.get(this.#urgent.shift()!);
      if (m && m.state === "suspect") return m;
    }
    for (let checked = 0; checked <= this.#ring.length; checked++) {
      if (this.#cursor >= this.#ring.length) this.#wrap(reap);
      if (this.#ring.length === 0) return undefined;
      const m = this.#ring[this.#cursor++];
      if (isActive(m.state)) return m;
    }
    return undefined;
  }

  /**
   * Up to `k` distinct random members (never self) that satisfy `accept`, sampling the ring
   * so that the cost is about O(k), not O(n). When random draws find too few, the rest of the
   * ring is scanned from a random offset.
   */
  sample(k: number, accept: (m: MemberRecord) => boolean): MemberRecord[] {
    const out: MemberRecord[] = [];
    const ring = this.#ring;
    const n = ring.length;
    if (k <= 0 || n === 0) return out;
    // Records drawn so far. A short array beats a Set for the few draws of a sample.
    const picked: MemberRecord[] = [];
    const tries = 4 * k + 8;
    for (let i = 0; i < tries && out.length < k; i++) {
      const m = ring[randomInt(this.#rng, n)];
      if (picked.includes(m)) continue;
      picked.push(m);
      if (accept(m)) out.push(m);
    }
    if (out.length < k && picked.length < n) {
      // Sparse matches: fall back to a full scan from a random offset.
      const start = randomInt(this.#rng, n);
      for (let i = 0; i < n && out.length < k; i++) {
        const m = ring[(start + i) % n];
        if (picked.includes(m)) continue;
        if (accept(m)) out.push(m);
      }
    }
    return out;
  }

  #wrap(reap: (m: MemberRecord) => boolean): void {
    const keep: MemberRecord[] = [];
    for (const m of this.#ring) {
      if (reap(m)) this.#members.delete(m.name);
      else keep.push(m);
    }
    this.#ring = shuffle(this.#rng, keep);
    this.#cursor = 0;
  }
}

/**
 * One string per distinct host text, shared by every table in the process: each table holds
 * every member's host, so n tables in one process (a simulation, a benchmark) would otherwise
 * hold n² copies. Bounded; forgetting only costs the sharing.
 */
const hosts = new Map<string, string>();

function sharedHost(host: string): string {
  const known = hosts.get(host);
  if (known !== undefined) return known;
  if (hosts.size >= 65_536) hosts.clear();
  hosts.set(host, host);
  return host;
}
