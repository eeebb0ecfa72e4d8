/**
 * Members and their states.
 *
 * A member's life (protocol.md §7), ordered by precedence for one name:
 * `alive(i) < suspect(i) < alive(i+1) < …`, and `dead`/`left` win at any incarnation
 * ≥ the known one until the member itself announces a higher incarnation.
 *
 * @module
 */

/**
 * The states of a member. `unreachable` exists only when `confirmDeaths` is on: a member
 * whose suspicion expired, held until the application confirms its death.
 */
export type MemberState = "alive" | "suspect" | "unreachable" | "dead" | "left";

/**
 * memberlist's node state codes, as push/pull entries carry them (protocol.md §5.9). The one
 * table of them: the wire codec imports it.
 */
export const StateCode = { alive: 0, suspect: 1, dead: 2, left: 3 } as const;

/** A node state code: 0 alive, 1 suspect, 2 dead, 3 left. */
export type StateCode = (typeof StateCode)[keyof typeof StateCode];

/** The code each member state travels as (`unreachable` is a local refinement of suspect). */
export const STATE_CODE: Readonly<Record<MemberState, StateCode>> = {
  alive: StateCode.alive,
  suspect: StateCode.suspect,
  unreachable: StateCode.suspect,
  dead: StateCode.dead,
  left: StateCode.left,
};

/** What the application sees of a member: an immutable snapshot. */
export interface Member {
  /** Unique name in the cluster. */
  readonly name: string;
  /** IP literal of the member. */
  readonly address: string;
  /** Port (UDP, and TCP for stream transports). */
  readonly port: number;
  /** Current state as this node believes it. */
  readonly state: MemberState;
  /** The member's incarnation number; only the member itself raises it. */
  readonly incarnation: number;
  /** Application metadata (≤ 512 bytes), empty when none. */
  readonly meta: Uint8Array;
}

/**
 * The core's record of a member. Records are never changed in place (our own excepted): the
 * table replaces them (`MemberTable.update`), and may share one between the tables of a
 * simulation.
 */
export interface MemberRecord {
  readonly name: string;
  /** Raw IP bytes exactly as announced. */
  readonly addr: Uint8Array;
  /** `addr` as text, cached for sending. */
  readonly host: string;
  readonly port: number;
  readonly meta: Uint8Array | null;
  readonly vsn: Uint8Array;
  readonly incarnation: number;
  readonly state: MemberState;
}

const EMPTY = new Uint8Array(0);

/** Take an immutable snapshot of a record. */
export function snapshot(record: MemberRecord): Member {
  return Object.freeze({
    name: record.name,
    address: record.host,
    port: record.port,
    state: record.state,
    incarnation: record.incarnation,
    meta: record.meta ? record.meta.slice() : EMPTY,
  });
}

/** Byte equality, treating null as empty. */
export function bytesEqual(a: Uint8Array | null, b: Uint8Array | null): boolean {
  const x = a ?? EMPTY, y = b ?? EMPTY;
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Alive, suspect or unreachable: a member still probed and gossiped to. */
export function isActive(state: MemberState): boolean {
  return state === "alive" || state === "suspect" || state === "unreachable";
}
