/**
 * The membership table: every member this node knows (itself included), and the shuffled
 * round-robin probe order (protocol.md §8.1). Storage and selection only; the rules that change
 * a member's state live in `rumours.ts`, judged by `precedence.ts`.
 *
 * Records are immutable (our own excepted): a change makes a new record ({@linkcode
 * MemberTable.update}). Tables given one {@linkcode SharedRecords} (the members of a
 * simulation) hold the same record object wherever they agree, so n tables of n members cost
 * about n records plus their disagreements, not n².
 *
 * @module
 */

import { bytesEqual, isActive, type MemberRecord, type MemberState } from "./member.ts";
import { randomInt, type Rng } from "./rng.ts";
import { ProbeRing } from "./_probe_ring.ts";

/** What {@linkcode MemberTable.update} may change in a record. */
export type RecordPatch = Partial<Omit<MemberRecord, "name">>;

/**
 * Member records shared by the state machines given the same instance (`SwimOptions.
 * sharedRecords`): where their views of a member agree they hold one record, so n members of
 * one simulation cost about n records plus their disagreements, not n². For many members in
 * one process; a member on its own needs none.
 *
 * @example
 * ```ts
 * import { SharedRecords } from "@shoal/swim";
 * const records = new SharedRecords(); // pass the same one to every Swim of the process
 * ```
 */
export class SharedRecords {
  /** An empty store. */
  constructor() {
    stores.set(this, new RecordStore());
  }
}

const stores = new WeakMap<SharedRecords, RecordStore>();

/**
 * The store behind {@linkcode SharedRecords}: one id per name, and per id the record most
 * tables hold. Each table keeps only where it differs. A table without shared records has a
 * private store.
 */
class RecordStore {
  /** name → id. */
  readonly ids: Map<string, number> = new Map();
  /** id → the record a table holds unless it holds its own. */
  readonly base: (MemberRecord | undefined)[] = [];
  /** id → the newest record made, offered to the next table that reaches the same content. */
  readonly latest: (MemberRecord | undefined)[] = [];

  /** Per list given to `addAll`: its ids, whether ascending, and whether all are the base. */
  readonly #lists = new WeakMap<readonly MemberRecord[], ListIds>();

  /** The ids of `records` (cached: a list shared by many tables is looked up once). */
  listIds(records: readonly MemberRecord[]): ListIds {
    let list = this.#lists.get(records);
    if (list) return list;
    const ids = new Int32Array(records.length);
    let ascending = true;
    for (let i = 0; i < records.length; i++) {
      ids[i] = this.idOf(records[i].name);
      if (i > 0 && ids[i] <= ids[i - 1]) ascending = false;
    }
    list = { ids, ascending, interned: false, bits: undefined };
    this.#lists.set(records, list);
    return list;
  }

  /** The ids of an ascending `list` as a bit set (cached). */
  listBits(list: ListIds): Uint32Array {
    if (list.bits) return list.bits;
    const ids = list.ids;
    const bits = new Uint32Array((ids[ids.length - 1] + 1 >>> 5) + 1);
    for (const id of ids) bits[id >>> 5] |= 1 << (id & 31);
    return list.bits = bits;
  }

  /** The id of `name`, assigned on first sight. */
  idOf(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.base.length;
      this.ids.set(name, id);
      this.base.push(undefined);
      this.latest.push(undefined);
    }
    return id;
  }

  /** A record equal to `r` already known for `id`, or `r` itself (then the newest). */
  intern(id: number, r: MemberRecord): MemberRecord {
    const base = this.base[id];
    if (base === undefined) return this.base[id] = this.latest[id] = r;
    if (base === r || sameRecord(base, r)) return base;
    const latest = this.latest[id]!;
    if (latest === r || sameRecord(latest, r)) return latest;
    return this.latest[id] = r;
  }
}

/** The ids of a list of records, as a {@linkcode RecordStore} caches them. */
interface ListIds {
  /** One id per record, in order. */
  readonly ids: Int32Array;
  /** Strictly ascending: no name twice, and the order ids were assigned in. */
  readonly ascending: boolean;
  /** Every record of the list is its id's base record. */
  interned: boolean;
  /** The ids as a bit set, once asked for. */
  bits: Uint32Array | undefined;
}

/** The table of members plus the probe ring. */
export class MemberTable {
  readonly #store: RecordStore;
  readonly #shared: boolean;
  /** Our own record: mutable, never shared. */
  #selfRecord: MemberRecord | undefined;
  readonly #selfId: number;
  /** Ids held in the order they came with the first `addAll` (ascending), as a bit set. */
  #inBase = new Uint32Array(0);
  #baseEnd = 0;
  /** Ids added since, in insertion order. */
  readonly #tail = new Set<number>();
  /** id → our record where it is not the store's base. */
  readonly #own = new Map<number, MemberRecord>();
  /** id → clock time of the last state change, for members not alive (only then is it read). */
  readonly #changedAt = new Map<number, number>();
  #size = 0;
  /**
   * Probe order: the id of every record but our own, walked round-robin, reshuffled at each
   * wrap. Records leave the table only at a wrap, so the ring always holds exactly the table.
   */
  readonly #ring = new ProbeRing();
  #cursor = 0;
  /** Suspects to probe before resuming the round-robin (bounded). */
  #urgent: string[] = [];
  #urgentTurn = false;
  readonly #rng: Rng;
  readonly #self: string;

  /**
   * A table for the local member `self`, sharing records through `shared` when given (every
   * table of one simulation), otherwise with a private store.
   */
  constructor(self: string, rng: Rng, shared?: SharedRecords) {
    this.#self = self;
    this.#rng = rng;
    this.#shared = shared !== undefined;
    this.#store = shared ? stores.get(shared)! : new RecordStore();
    this.#selfId = this.#store.idOf(self);
  }

  /** Number of entries, self and not-yet-reaped dead included (memberlist's estimate of n). */
  get size(): number {
    return this.#size;
  }

  /** The record for `name`, if known. */
  get(name: string): MemberRecord | undefined {
    const id = this.#store.ids.get(name);
    return id === undefined || !this.#has(id) ? undefined : this.#record(id);
  }

  /** All records: ours first, then in the order they were added. */
  *values(): IterableIterator<MemberRecord> {
    if (this.#selfRecord) yield this.#selfRecord;
    const bits = this.#inBase;
    for (let w = 0; w < bits.length; w++) {
      let word = bits[w];
      while (word !== 0) {
        const low = word & -word;
        yield this.#record(w * 32 + 31 - Math.clz32(low));
        word ^= low;
      }
    }
    for (const id of this.#tail) yield this.#record(id);
  }

  /** Clock time of `m`'s last state change, as this table saw it (kept while not alive). */
  changedAt(m: MemberRecord): number {
    const id = this.#store.ids.get(m.name);
    return (id === undefined ? undefined : this.#changedAt.get(id)) ?? -Infinity;
  }

  /**
   * Add a new record (seen now, at clock time `at`) at a random position of the probe ring.
   */
  add(record: MemberRecord, at = 0): void {
    const id = this.#store.idOf(record.name);
    if (id === this.#selfId) {
      // Held as given: the state machine keeps this object as its own record.
      this.#selfRecord = Object.assign(record, { host: sharedHost(record.host) });
      this.#size++;
      return;
    }
    this.#put(id, this.#store.intern(id, { ...record, host: sharedHost(record.host) }));
    if (record.state !== "alive") this.#changedAt.set(id, at);
    this.#tail.add(id);
    this.#size++;
    const position = randomInt(this.#rng, this.#ring.length + 1);
    this.#ring.insert(position, id);
    if (position < this.#cursor) this.#cursor++;
  }

  /**
   * Add many new alive records at once (names already known are skipped), then shuffle the
   * whole probe ring: O(n), where adding one by one costs O(n²). The records may be shared
   * with other tables: they are never changed.
   */
  addAll(records: readonly MemberRecord[]): void {
    const list = this.#store.listIds(records);
    const ids = list.ids;
    if (list.ascending && this.#baseEnd === 0 && this.#tail.size === 0 && ids.length > 0) {
      // The common case (a warm start): the whole list, in id order, as our base.
      const store = this.#store;
      if (!list.interned || !this.#shared) {
        let all = true;
        for (let i = 0; i < ids.length; i++) {
          const r = store.intern(ids[i], records[i]);
          if (r !== records[i]) all = false;
          if (ids[i] !== this.#selfId) this.#put(ids[i], r);
        }
        if (this.#shared) list.interned = all;
      }
      this.#baseEnd = ids[ids.length - 1] + 1;
      this.#inBase = store.listBits(list).slice();
      const self = this.#selfId;
      if (self < this.#baseEnd && (this.#inBase[self >>> 5] & (1 << (self & 31))) !== 0) {
        this.#inBase[self >>> 5] &= ~(1 << (self & 31));
        this.#size--;
      }
      this.#size += ids.length;
      this.#ring.appendAndShuffle(this.#rng, ids, this.#selfId);
      this.#cursor = 0;
      return;
    }
    const fresh: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id === this.#selfId || this.#has(id)) continue;
      this.#put(id, this.#store.intern(id, records[i]));
      this.#tail.add(id);
      this.#size++;
      fresh.push(id);
    }
    this.#ring.appendAndShuffle(this.#rng, Int32Array.from(fresh), -1);
    this.#cursor = 0;
  }

  /**
   * Replace what we hold of `m` by `m` with `patch` applied, at clock time `now`, and return
   * the record now held. Our own record changes in place; any other is replaced (it may be
   * shared), so a reference taken before is stale after.
   */
  update(m: MemberRecord, patch: RecordPatch, now: number): MemberRecord {
    const id = this.#store.idOf(m.name);
    if (patch.state !== undefined && patch.state !== m.state) {
      if (patch.state === "alive") this.#changedAt.delete(id);
      else this.#changedAt.set(id, now);
    }
    if (patch.host !== undefined) patch = { ...patch, host: sharedHost(patch.host) };
    if (id === this.#selfId) return Object.assign(this.#selfRecord!, patch);
    const next = this.#store.intern(id, { ...m, ...patch });
    this.#put(id, next);
    return next;
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
    for (const m of this.values()) if (m.state === state) n++;
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
      const m = this.get(this.#urgent.shift()!);
      if (m && m.state === "suspect") return m;
    }
    for (let checked = 0; checked <= this.#ring.length; checked++) {
      if (this.#cursor >= this.#ring.length) this.#wrap(reap);
      if (this.#ring.length === 0) return undefined;
      const m = this.#record(this.#ring.at(this.#cursor++));
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
    const n = this.#ring.length;
    if (k <= 0 || n === 0) return out;
    const ring = this.#ring.view();
    // Ids drawn so far. A short array beats a Set for the few draws of a sample.
    const picked: number[] = [];
    const tries = 4 * k + 8;
    for (let i = 0; i < tries && out.length < k; i++) {
      const id = ring[randomInt(this.#rng, n)];
      if (picked.includes(id)) continue;
      picked.push(id);
      const m = this.#record(id);
      if (accept(m)) out.push(m);
    }
    if (out.length < k && picked.length < n) {
      // Sparse matches: fall back to a full scan from a random offset.
      const start = randomInt(this.#rng, n);
      for (let i = 0; i < n && out.length < k; i++) {
        const id = ring[(start + i) % n];
        if (picked.includes(id)) continue;
        const m = this.#record(id);
        if (accept(m)) out.push(m);
      }
    }
    return out;
  }

  /**
   * Up to `k` members that are not alive (suspect, dead, left, unreachable) and satisfy
   * `accept`, from a random offset: O(members not alive), whatever the table's size.
   */
  sampleNotAlive(k: number, accept: (m: MemberRecord) => boolean): MemberRecord[] {
    const out: MemberRecord[] = [];
    if (k <= 0 || this.#changedAt.size === 0) return out;
    const ids = [...this.#changedAt.keys()];
    const start = randomInt(this.#rng, ids.length);
    for (let i = 0; i < ids.length && out.length < k; i++) {
      const id = ids[(start + i) % ids.length];
      if (id === this.#selfId || !this.#has(id)) continue;
      const m = this.#record(id);
      if (accept(m)) out.push(m);
    }
    return out;
  }

  #has(id: number): boolean {
    if (id === this.#selfId) return this.#selfRecord !== undefined;
    if (id < this.#baseEnd && (this.#inBase[id >>> 5] & (1 << (id & 31))) !== 0) return true;
    return this.#tail.has(id);
  }

  #record(id: number): MemberRecord {
    if (id === this.#selfId) return this.#selfRecord!;
    return this.#own.get(id) ?? this.#store.base[id]!;
  }

  /** Hold `r` for `id`: nothing of our own when it is the store's base. */
  #put(id: number, r: MemberRecord): void {
    const store = this.#store;
    if (r === store.base[id]) this.#own.delete(id);
    else if (!this.#shared) {
      store.base[id] = store.latest[id] = r;
      this.#own.delete(id);
    } else this.#own.set(id, r);
  }

  #remove(id: number): void {
    if (id < this.#baseEnd && (this.#inBase[id >>> 5] & (1 << (id & 31))) !== 0) {
      this.#inBase[id >>> 5] &= ~(1 << (id & 31));
    } else this.#tail.delete(id);
    this.#own.delete(id);
    this.#changedAt.delete(id);
    this.#size--;
  }

  #wrap(reap: (m: MemberRecord) => boolean): void {
    this.#ring.filterAndShuffle(this.#rng, (id) => {
      if (!reap(this.#record(id))) return true;
      this.#remove(id);
      return false;
    });
    this.#cursor = 0;
  }
}

/** Equal content: everything a rumour or a snapshot could read. */
function sameRecord(a: MemberRecord, b: MemberRecord): boolean {
  return a.state === b.state && a.incarnation === b.incarnation && a.port === b.port &&
    a.host === b.host && bytesEqual(a.addr, b.addr) && bytesEqual(a.vsn, b.vsn) &&
    sameMeta(a.meta, b.meta);
}

/** Metadata equality that keeps null and empty apart (a snapshot shows both as empty). */
function sameMeta(a: Uint8Array | null, b: Uint8Array | null): boolean {
  return a === b || (a !== null && b !== null && bytesEqual(a, b));
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
