/**
 * Serf's protocol state, sans I/O: members' intents and statuses, the three Lamport clocks,
 * the recent-event and recent-query buffers, queries in flight. Inputs are serf messages,
 * membership changes and API calls; outputs are {@linkcode SerfEffect}s the shell performs
 * (broadcast, send, deliver). Time comes in through `now`, randomness through `rng`.
 *
 * Every network input is hostile: nothing here throws on bad input; it is dropped and
 * counted in {@linkcode SerfStats}.
 *
 * @module
 */

import { DecodeError } from "../core/codec.ts";
import { LamportClock } from "./lamport.ts";
import {
  type BufferedEvents,
  decodeFilter,
  decodeSerfMessage,
  encodeNodeFilter,
  encodeSerfMessage,
  encodeTagFilter,
  type JoinIntent,
  type PushPullState,
  QUERY_FLAG_ACK,
  QUERY_FLAG_NO_BROADCAST,
  type QueryMessage,
  type QueryResponseMessage,
  SerfMessageType,
  type UserEventMessage,
} from "./messages.ts";

/** serf's limit on a user event's name plus payload. */
export const USER_EVENT_SIZE_LIMIT = 512;
/** serf's default limit on an encoded query. */
export const QUERY_SIZE_LIMIT = 1024;
/** serf's default limit on an encoded query response. */
export const QUERY_RESPONSE_SIZE_LIMIT = 1024;
/** serf's default recent-event and recent-query buffer sizes (Lamport times remembered). */
export const DEFAULT_BUFFER = 512;
/** Queries answered at once may not run longer than this (a hostile timeout is capped). */
export const MAX_QUERY_TIMEOUT_MS = 10 * 60_000;
/** Most distinct events (or query ids) remembered per Lamport time. */
const MAX_PER_SLOT = 128;
/** Most recent intents about members we do not know yet. */
const MAX_INTENTS = 4096;
/** How long such an intent is remembered (serf's RecentIntentTimeout). */
const INTENT_TIMEOUT = 5 * 60_000;
/** Most left or failed members remembered. */
const MAX_TOMBSTONES = 4096;
/** Most queries of our own in flight. */
const MAX_PENDING_QUERIES = 256;

/** A member as serf sees it. */
export type SerfMemberStatus = "alive" | "leaving" | "left" | "failed";

/** A member of the serf cluster. */
export interface SerfMember {
  /** Member name. */
  readonly name: string;
  /** IP text. */
  readonly address: string;
  /** Port. */
  readonly port: number;
  /** Its tags. */
  readonly tags: Readonly<Record<string, string>>;
  /** Serf's status: memberlist state plus the leave intent. */
  readonly status: SerfMemberStatus;
  /** Its delegate (serf) protocol versions `[min, max, cur]`. */
  readonly protocol: readonly [number, number, number];
}

/** What the state machine learns of a member from memberlist. */
export interface MemberInfo {
  /** Name. */
  readonly name: string;
  /** IP text. */
  readonly address: string;
  /** IP bytes. */
  readonly addr: Uint8Array;
  /** Port. */
  readonly port: number;
  /** Decoded tags. */
  readonly tags: Readonly<Record<string, string>>;
  /** Delegate versions `[min, max, cur]`. */
  readonly protocol: readonly [number, number, number];
}

/** A user event delivered to the application. */
export interface UserEventData {
  /** Event-clock time. */
  readonly ltime: number;
  /** Name. */
  readonly name: string;
  /** Payload. */
  readonly payload: Uint8Array;
  /** The sender allowed coalescing. */
  readonly coalesce: boolean;
}

/** A query to answer, as the state machine hands it to the shell. */
export interface IncomingQuery {
  /** Query-clock time. */
  readonly ltime: number;
  /** Query id. */
  readonly id: number;
  /** Name. */
  readonly name: string;
  /** Payload. */
  readonly payload: Uint8Array;
  /** Responses are refused after this time (`now` clock, ms). */
  readonly deadline: number;
  /** @internal Where to answer. */
  readonly addr: Uint8Array;
  /** @internal */
  readonly port: number;
  /** @internal */
  readonly relayFactor: number;
  /** @internal Set once answered. */
  responded: boolean;
}

/** Something the shell must do. */
export type SerfEffect =
  /** Gossip `bytes` (a serf message) to the cluster; `relay` for another member's message. */
  | { readonly type: "broadcast"; readonly bytes: Uint8Array; readonly relay?: boolean }
  /** Send `bytes` as a memberlist user message to `ip:port`. */
  | {
    readonly type: "send";
    readonly ip: Uint8Array;
    readonly port: number;
    readonly bytes: Uint8Array;
  }
  /** Deliver a user event to the application. */
  | { readonly type: "userEvent"; readonly event: UserEventData }
  /** Deliver a query to the application. */
  | { readonly type: "query"; readonly query: IncomingQuery }
  /** An ack or response arrived for our query at `ltime`. */
  | {
    readonly type: "reply";
    readonly ltime: number;
    readonly kind: "ack" | "response";
    readonly from: string;
    readonly payload: Uint8Array;
  };

/** Counters: what arrived, what was dropped and why. */
export interface SerfStats {
  /** Serf messages handled. */
  messagesIn: number;
  /** Messages that did not decode, by kind. */
  decodeErrors: Record<string, number>;
  /** Messages of types shoal does not handle (conflict, key). */
  unsupported: number;
  /** User events delivered. */
  eventsDelivered: number;
  /** User events seen before (same time, name and payload). */
  eventsDuplicate: number;
  /** User events older than the buffer, or from before our join. */
  eventsTooOld: number;
  /** Queries processed (passed the filters). */
  queriesProcessed: number;
  /** Queries seen before. */
  queriesDuplicate: number;
  /** Queries older than the buffer. */
  queriesTooOld: number;
  /** Queries filtered out (not for us), or with a filter we refused. */
  queriesFiltered: number;
  /** Acks and responses for a query not in flight, with a wrong id, or duplicate. */
  repliesDropped: number;
  /** Relayed responses forwarded. */
  relaysForwarded: number;
  /** Relay messages refused (not a response, too large, bad address). */
  relaysRefused: number;
  /** Intents remembered for unknown members dropped at the bound. */
  intentsDropped: number;
  /** Responses refused: too large, late or repeated. */
  responsesRefused: number;
  /** Push/pull states merged. */
  statesMerged: number;
}

/** Options of {@linkcode SerfState}. */
export interface SerfStateOptions {
  /** Our name. */
  readonly name: string;
  /** Our tags. */
  readonly tags: Readonly<Record<string, string>>;
  /** Our IP bytes and port, where query responses come back. */
  readonly addr: Uint8Array;
  /** Our port. */
  readonly port: number;
  /** Time in ms (monotonic). */
  readonly now: () => number;
  /** Uniform in [0, 1). */
  readonly rng: () => number;
  /** Lamport times of events remembered (default 512). */
  readonly eventBuffer?: number;
  /** Lamport times of queries remembered (default 512). */
  readonly queryBuffer?: number;
  /** Ignore the events a join's push/pull replays (default true, as `serf agent`). */
  readonly ignoreOldEvents?: boolean;
  /** Largest encoded query accepted from the API (default 1024). */
  readonly querySizeLimit?: number;
  /** Largest encoded response sent (default 1024). */
  readonly queryResponseSizeLimit?: number;
}

interface MemberState {
  info: MemberInfo;
  status: SerfMemberStatus;
  statusLTime: number;
  /** When it left or failed (for the tombstone bound). */
  downAt: number;
}

interface PendingQuery {
  readonly id: number;
  readonly deadline: number;
  readonly acks: Set<string>;
  readonly responses: Set<string>;
  readonly max: number;
}

/** Parameters of an outgoing query. */
export interface QueryParams {
  /** Only these members process it. */
  readonly filterNodes?: readonly string[];
  /** Only members whose tags match these regular expressions process it. */
  readonly filterTags?: Readonly<Record<string, string>>;
  /** Ask for acks (default true). */
  readonly requestAck?: boolean;
  /** Relay each response through this many other members too (0–5, default 0). */
  readonly relayFactor?: number;
  /** How long to wait, ms. */
  readonly timeout: number;
}

/**
 * Serf's protocol state machine (see the module doc). Each method returns the effects to
 * perform.
 *
 * @example
 * ```ts
 * import { SerfState } from "@shoal/swim/serf";
 * const s = new SerfState({
 *   name: "a", tags: {}, addr: new Uint8Array([127, 0, 0, 1]), port: 7946,
 *   now: () => performance.now(), rng: Math.random,
 * });
 * const effects = s.userEvent("deploy", new TextEncoder().encode("v2"), false);
 * console.log(effects.map((e) => e.type)); // ["userEvent", "broadcast"]
 * ```
 */
export class SerfState {
  /** Member clock (join and leave intents). */
  readonly clock: LamportClock = new LamportClock();
  /** Event clock. */
  readonly eventClock: LamportClock = new LamportClock();
  /** Query clock. */
  readonly queryClock: LamportClock = new LamportClock();
  /** Counters. */
  readonly stats: SerfStats = {
    messagesIn: 0,
    decodeErrors: {},
    unsupported: 0,
    eventsDelivered: 0,
    eventsDuplicate: 0,
    eventsTooOld: 0,
    queriesProcessed: 0,
    queriesDuplicate: 0,
    queriesTooOld: 0,
    queriesFiltered: 0,
    repliesDropped: 0,
    relaysForwarded: 0,
    relaysRefused: 0,
    intentsDropped: 0,
    responsesRefused: 0,
    statesMerged: 0,
  };

  readonly #name: string;
  #tags: Readonly<Record<string, string>>;
  readonly #addr: Uint8Array;
  readonly #port: number;
  readonly #now: () => number;
  readonly #rng: () => number;
  readonly #members = new Map<string, MemberState>();
  readonly #intents = new Map<string, { type: "join" | "leave"; ltime: number; at: number }>();
  readonly #eventBuffer:
    ({ ltime: number; events: { name: string; payload: Uint8Array }[] } | undefined)[];
  readonly #queryBuffer: ({ ltime: number; ids: number[] } | undefined)[];
  readonly #pending = new Map<number, PendingQuery>();
  readonly #ignoreOld: boolean;
  readonly #querySizeLimit: number;
  readonly #responseSizeLimit: number;
  #eventMinTime = 0;
  #joinedOnce = false;
  #leaving = false;
  #out: SerfEffect[] = [];

  /** A fresh state for member `options.name`. */
  constructor(options: SerfStateOptions) {
    this.#name = options.name;
    this.#tags = { ...options.tags };
    this.#addr = options.addr;
    this.#port = options.port;
    this.#now = options.now;
    this.#rng = options.rng;
    this.#eventBuffer = new Array(positive(options.eventBuffer ?? DEFAULT_BUFFER, "eventBuffer"));
    this.#queryBuffer = new Array(positive(options.queryBuffer ?? DEFAULT_BUFFER, "queryBuffer"));
    this.#ignoreOld = options.ignoreOldEvents ?? true;
    this.#querySizeLimit = options.querySizeLimit ?? QUERY_SIZE_LIMIT;
    this.#responseSizeLimit = options.queryResponseSizeLimit ?? QUERY_RESPONSE_SIZE_LIMIT;
    this.#members.set(this.#name, {
      info: {
        name: this.#name,
        address: "",
        addr: this.#addr,
        port: this.#port,
        tags: this.#tags,
        protocol: [2, 5, 5],
      },
      status: "alive",
      statusLTime: 0,
      downAt: 0,
    });
  }

  // MARK: members

  /** Every member known, ourselves included, in any status. */
  members(): SerfMember[] {
    return [...this.#members.values()].map((m) => ({
      name: m.info.name,
      address: m.info.address,
      port: m.info.port,
      tags: m.info.tags,
      status: m.status,
      protocol: m.info.protocol,
    }));
  }

  /** Our tags changed (the shell updates the node metadata). */
  setTags(tags: Readonly<Record<string, string>>): void {
    this.#tags = { ...tags };
    const self = this.#members.get(this.#name)!;
    self.info = { ...self.info, tags: this.#tags };
  }

  /** Our tags. */
  get tags(): Readonly<Record<string, string>> {
    return this.#tags;
  }

  /** memberlist reports a member alive (joined, or back). */
  memberAlive(info: MemberInfo): SerfEffect[] {
    const m = this.#members.get(info.name);
    if (m === undefined) {
      const fresh: MemberState = { info, status: "alive", statusLTime: 0, downAt: 0 };
      const intent = this.#intents.get(info.name);
      if (intent !== undefined) {
        fresh.statusLTime = intent.ltime;
        if (intent.type === "leave") fresh.status = "leaving";
        this.#intents.delete(info.name);
      }
      this.#members.set(info.name, fresh);
    } else {
      m.info = info;
      if (info.name !== this.#name) m.status = "alive";
    }
    // Announce our join intent once somebody can hear it (serf does after memberlist's join).
    if (!this.#joinedOnce && info.name !== this.#name) {
      this.#joinedOnce = true;
      this.#broadcastJoin();
    }
    return this.#drain();
  }

  /** memberlist reports a member's metadata changed. */
  memberUpdate(info: MemberInfo): SerfEffect[] {
    const m = this.#members.get(info.name);
    if (m !== undefined) m.info = info;
    return this.#drain();
  }

  /** memberlist reports a member gone (left or dead): left after a leave intent, else failed. */
  memberDown(name: string): SerfEffect[] {
    const m = this.#members.get(name);
    if (m === undefined || name === this.#name) return this.#drain();
    if (m.status === "leaving") m.status = "left";
    else if (m.status === "alive") m.status = "failed";
    else return this.#drain();
    m.downAt = this.#now();
    this.#boundTombstones();
    return this.#drain();
  }

  #boundTombstones(): void {
    const down = [...this.#members.values()].filter((m) =>
      m.status === "left" || m.status === "failed"
    );
    if (down.length <= MAX_TOMBSTONES) return;
    down.sort((a, b) => a.downAt - b.downAt);
    for (const m of down.slice(0, down.length - MAX_TOMBSTONES)) this.#members.delete(m.info.name);
  }

  /** Broadcast our join intent at the member clock's time (on join, or to refute a leave). */
  broadcastJoin(): SerfEffect[] {
    this.#broadcastJoin();
    return this.#drain();
  }

  #broadcastJoin(): void {
    const msg: JoinIntent = { type: "join", ltime: this.clock.time(), node: this.#name };
    this.clock.witness(msg.ltime);
    this.#onIntent(msg);
    this.#out.push({ type: "broadcast", bytes: encodeSerfMessage(msg) });
  }

  /** Start a graceful leave: our leave intent, broadcast when anyone else is alive. */
  leave(): SerfEffect[] {
    if (this.#leaving) return this.#drain();
    this.#leaving = true;
    const msg: JoinIntent = { type: "leave", ltime: this.clock.time(), node: this.#name };
    this.clock.increment();
    this.#onIntent(msg);
    const others = [...this.#members.values()].some((m) =>
      m.info.name !== this.#name && m.status === "alive"
    );
    if (others) this.#out.push({ type: "broadcast", bytes: encodeSerfMessage(msg) });
    return this.#drain();
  }

  /** Handle a join or leave intent; true when it was news (and should be re-broadcast). */
  #onIntent(msg: JoinIntent): boolean {
    this.clock.witness(msg.ltime);
    const m = this.#members.get(msg.node);
    if (m === undefined) return this.#upsertIntent(msg);
    if (msg.ltime <= m.statusLTime) return false;
    if (msg.type === "join") {
      m.statusLTime = msg.ltime;
      if (m.status === "leaving") m.status = "alive";
      return true;
    }
    if (msg.node === this.#name && !this.#leaving) {
      this.#broadcastJoin(); // refute an old leave intent about us
      return false;
    }
    if (m.status === "alive") {
      m.status = "leaving";
      m.statusLTime = msg.ltime;
      return true;
    }
    if (m.status === "failed") {
      m.status = "left";
      m.statusLTime = msg.ltime;
      return true;
    }
    return false;
  }

  #upsertIntent(msg: JoinIntent): boolean {
    const now = this.#now();
    const known = this.#intents.get(msg.node);
    if (known !== undefined && msg.ltime <= known.ltime) return false;
    if (known === undefined && this.#intents.size >= MAX_INTENTS) {
      for (const [name, i] of this.#intents) {
        if (now - i.at > INTENT_TIMEOUT) this.#intents.delete(name);
      }
      if (this.#intents.size >= MAX_INTENTS) {
        this.stats.intentsDropped++;
        return false;
      }
    }
    this.#intents.set(msg.node, { type: msg.type, ltime: msg.ltime, at: now });
    return true;
  }

  // MARK: events

  /**
   * Send a user event: stamped with the event clock, delivered here too, then gossiped.
   * Throws `RangeError` when name and payload exceed {@linkcode USER_EVENT_SIZE_LIMIT}.
   */
  userEvent(name: string, payload: Uint8Array, coalesce: boolean): SerfEffect[] {
    const size = new TextEncoder().encode(name).length + payload.length;
    if (size > USER_EVENT_SIZE_LIMIT) {
      throw new RangeError(`user event exceeds limit of ${USER_EVENT_SIZE_LIMIT} bytes (${size})`);
    }
    const msg: UserEventMessage = {
      type: "userEvent",
      ltime: this.eventClock.time(),
      name,
      payload,
      coalesce,
    };
    this.eventClock.increment();
    this.#onUserEvent(msg);
    this.#out.push({ type: "broadcast", bytes: encodeSerfMessage(msg) });
    return this.#drain();
  }

  #onUserEvent(msg: UserEventMessage): boolean {
    this.eventClock.witness(msg.ltime);
    if (msg.ltime < this.#eventMinTime) {
      this.stats.eventsTooOld++;
      return false;
    }
    const size = this.#eventBuffer.length;
    const cur = this.eventClock.time();
    if (cur > size && msg.ltime < cur - size) {
      this.stats.eventsTooOld++;
      return false;
    }
    const idx = msg.ltime % size;
    let slot = this.#eventBuffer[idx];
    if (slot !== undefined && slot.ltime === msg.ltime) {
      if (slot.events.some((e) => e.name === msg.name && equalBytes(e.payload, msg.payload))) {
        this.stats.eventsDuplicate++;
        return false;
      }
      if (slot.events.length >= MAX_PER_SLOT) {
        this.stats.eventsDuplicate++;
        return false;
      }
    } else {
      slot = { ltime: msg.ltime, events: [] };
      this.#eventBuffer[idx] = slot;
    }
    slot.events.push({ name: msg.name, payload: msg.payload });
    this.stats.eventsDelivered++;
    this.#out.push({
      type: "userEvent",
      event: { ltime: msg.ltime, name: msg.name, payload: msg.payload, coalesce: msg.coalesce },
    });
    return true;
  }

  // MARK: queries

  /**
   * Start a query: registered (answers are `reply` effects until {@linkcode SerfState.endQuery}),
   * processed here too, then gossiped. Returns its Lamport time with the effects. Throws
   * `RangeError` when the encoded query exceeds the size limit or too many are in flight.
   */
  query(name: string, payload: Uint8Array, params: QueryParams): {
    ltime: number;
    id: number;
    deadline: number;
    effects: SerfEffect[];
  } {
    if (this.#pending.size >= MAX_PENDING_QUERIES) {
      throw new RangeError(`${MAX_PENDING_QUERIES} queries are in flight already`);
    }
    const filters: Uint8Array[] = [];
    if (params.filterNodes?.length) filters.push(encodeNodeFilter(params.filterNodes));
    for (const [tag, expr] of Object.entries(params.filterTags ?? {})) {
      filters.push(encodeTagFilter(tag, expr));
    }
    const relayFactor = params.relayFactor ?? 0;
    if (!Number.isInteger(relayFactor) || relayFactor < 0 || relayFactor > 5) {
      throw new RangeError(`relayFactor must be 0 to 5, got ${relayFactor}`);
    }
    const msg: QueryMessage = {
      type: "query",
      ltime: this.queryClock.time(),
      id: Math.floor(this.#rng() * 0x8000_0000) >>> 0,
      addr: this.#addr,
      port: this.#port,
      filters,
      flags: params.requestAck === false ? 0 : QUERY_FLAG_ACK,
      relayFactor,
      timeoutNs: Math.round(params.timeout * 1e6),
      name,
      payload,
    };
    const raw = encodeSerfMessage(msg);
    if (raw.length > this.#querySizeLimit) {
      throw new RangeError(`query exceeds limit of ${this.#querySizeLimit} bytes (${raw.length})`);
    }
    const deadline = this.#now() + params.timeout;
    const n = [...this.#members.values()].filter((m) => m.status === "alive").length;
    this.#pending.set(msg.ltime, {
      id: msg.id,
      deadline,
      acks: new Set(),
      responses: new Set(),
      max: Math.max(n * 2, 16),
    });
    this.#onQuery(msg);
    this.#out.push({ type: "broadcast", bytes: raw });
    return { ltime: msg.ltime, id: msg.id, deadline, effects: this.#drain() };
  }

  /** Stop accepting answers to our query at `ltime` (its timeout passed, or the caller quit). */
  endQuery(ltime: number): void {
    this.#pending.delete(ltime);
  }

  #onQuery(msg: QueryMessage): boolean {
    this.queryClock.witness(msg.ltime);
    const size = this.#queryBuffer.length;
    const cur = this.queryClock.time();
    if (cur > size && msg.ltime < cur - size) {
      this.stats.queriesTooOld++;
      return false;
    }
    const idx = msg.ltime % size;
    let slot = this.#queryBuffer[idx];
    if (slot !== undefined && slot.ltime === msg.ltime) {
      if (slot.ids.includes(msg.id) || slot.ids.length >= MAX_PER_SLOT) {
        this.stats.queriesDuplicate++;
        return false;
      }
    } else {
      slot = { ltime: msg.ltime, ids: [] };
      this.#queryBuffer[idx] = slot;
    }
    slot.ids.push(msg.id);
    const rebroadcast = (msg.flags & QUERY_FLAG_NO_BROADCAST) === 0;
    if (!this.#shouldProcess(msg.filters)) {
      this.stats.queriesFiltered++;
      return rebroadcast;
    }
    this.stats.queriesProcessed++;
    if ((msg.flags & QUERY_FLAG_ACK) !== 0) {
      const ack: QueryResponseMessage = {
        type: "queryResponse",
        ltime: msg.ltime,
        id: msg.id,
        from: this.#name,
        flags: QUERY_FLAG_ACK,
        payload: new Uint8Array(0),
      };
      this.#answer(msg.addr, msg.port, msg.relayFactor, ack);
    }
    const timeoutMs = Math.min(msg.timeoutNs / 1e6, MAX_QUERY_TIMEOUT_MS);
    this.#out.push({
      type: "query",
      query: {
        ltime: msg.ltime,
        id: msg.id,
        name: msg.name,
        payload: msg.payload,
        deadline: this.#now() + timeoutMs,
        addr: msg.addr,
        port: msg.port,
        relayFactor: msg.relayFactor,
        responded: false,
      },
    });
    return rebroadcast;
  }

  #shouldProcess(filters: readonly Uint8Array[]): boolean {
    for (const bytes of filters) {
      let f;
      try {
        f = decodeFilter(bytes);
      } catch {
        return false;
      }
      if (f.type === "nodes") {
        if (!f.nodes.includes(this.#name)) return false;
      } else if (!matchTag(f.expr, this.#tags[f.tag] ?? "")) return false;
    }
    return true;
  }

  /**
   * Answer `query` with `payload`: sent straight to the asker (and relayed through
   * `relayFactor` members). Throws `RangeError` when too large, late, or answered before.
   */
  respond(query: IncomingQuery, payload: Uint8Array): SerfEffect[] {
    const resp: QueryResponseMessage = {
      type: "queryResponse",
      ltime: query.ltime,
      id: query.id,
      from: this.#name,
      flags: 0,
      payload,
    };
    const size = encodeSerfMessage(resp).length;
    const refuse = size > this.#responseSizeLimit
      ? `response exceeds limit of ${this.#responseSizeLimit} bytes (${size})`
      : query.responded
      ? "response already sent"
      : this.#now() > query.deadline
      ? "response is past the deadline"
      : undefined;
    if (refuse !== undefined) {
      this.stats.responsesRefused++;
      throw new RangeError(refuse);
    }
    query.responded = true;
    this.#answer(query.addr, query.port, query.relayFactor, resp);
    return this.#drain();
  }

  /** Send an ack or response to the asker, and through `relayFactor` other members. */
  #answer(addr: Uint8Array, port: number, relayFactor: number, resp: QueryResponseMessage): void {
    if (port === this.#port && equalBytes(addr, this.#addr)) this.#onReply(resp);
    else this.#out.push({ type: "send", ip: addr, port, bytes: encodeSerfMessage(resp) });
    if (relayFactor === 0) return;
    const relays = [...this.#members.values()].filter((m) =>
      m.status === "alive" && m.info.name !== this.#name && m.info.protocol[1] >= 5
    );
    if (relays.length < relayFactor) return;
    const message = encodeSerfMessage(resp);
    const raw = encodeSerfMessage({ type: "relay", ip: addr, port, message });
    if (raw.length > this.#responseSizeLimit) return;
    for (let i = 0; i < relayFactor; i++) {
      const j = i + Math.floor(this.#rng() * (relays.length - i));
      [relays[i], relays[j]] = [relays[j], relays[i]];
      const m = relays[i].info;
      this.#out.push({ type: "send", ip: m.addr, port: m.port, bytes: raw });
    }
  }

  #onReply(resp: QueryResponseMessage): void {
    const q = this.#pending.get(resp.ltime);
    if (q === undefined || q.id !== resp.id || this.#now() > q.deadline) {
      this.stats.repliesDropped++;
      return;
    }
    const ack = (resp.flags & QUERY_FLAG_ACK) !== 0;
    const seen = ack ? q.acks : q.responses;
    if (seen.has(resp.from) || seen.size >= q.max) {
      this.stats.repliesDropped++;
      return;
    }
    seen.add(resp.from);
    this.#out.push({
      type: "reply",
      ltime: resp.ltime,
      kind: ack ? "ack" : "response",
      from: resp.from,
      payload: resp.payload,
    });
  }

  // MARK: network input

  /**
   * A memberlist user message arrived (a serf message, direct or gossiped). Returns what to
   * do, re-broadcasting what was news. Never throws.
   */
  handleMessage(bytes: Uint8Array): SerfEffect[] {
    let msg;
    try {
      msg = decodeSerfMessage(bytes);
    } catch (err) {
      const kind = err instanceof DecodeError ? err.kind : "internal";
      if (kind === "unknown-type" && bytes[0] <= SerfMessageType.relay) this.stats.unsupported++;
      else this.stats.decodeErrors[kind] = (this.stats.decodeErrors[kind] ?? 0) + 1;
      return this.#drain();
    }
    this.stats.messagesIn++;
    let rebroadcast = false;
    switch (msg.type) {
      case "join":
      case "leave":
        rebroadcast = this.#onIntent(msg);
        break;
      case "userEvent":
        rebroadcast = this.#onUserEvent(msg);
        break;
      case "query":
        rebroadcast = this.#onQuery(msg);
        break;
      case "queryResponse":
        this.#onReply(msg);
        break;
      case "relay":
        if (
          msg.message[0] === SerfMessageType.queryResponse &&
          msg.message.length <= this.#responseSizeLimit &&
          (msg.ip.length === 4 || msg.ip.length === 16) && msg.port > 0
        ) {
          this.stats.relaysForwarded++;
          this.#out.push({ type: "send", ip: msg.ip, port: msg.port, bytes: msg.message });
        } else this.stats.relaysRefused++;
        break;
      case "pushPull":
        this.stats.unsupported++; // only valid as push/pull user state
        break;
    }
    if (rebroadcast) this.#out.push({ type: "broadcast", bytes: bytes.slice(), relay: true });
    return this.#drain();
  }

  // MARK: push/pull

  /** Our push/pull user state (memberlist's `LocalState`). */
  localState(): Uint8Array {
    const statusLTimes = new Map<string, number>();
    const leftMembers: string[] = [];
    for (const m of this.#members.values()) {
      statusLTimes.set(m.info.name, m.statusLTime);
      if (m.status === "left") leftMembers.push(m.info.name);
    }
    const events: BufferedEvents[] = [];
    for (const slot of this.#eventBuffer) if (slot !== undefined) events.push(slot);
    const pp: PushPullState = {
      type: "pushPull",
      ltime: this.clock.time(),
      statusLTimes,
      leftMembers,
      eventLTime: this.eventClock.time(),
      events,
      queryLTime: this.queryClock.time(),
    };
    return encodeSerfMessage(pp);
  }

  /** A peer's push/pull user state (memberlist's `MergeRemoteState`). Never throws. */
  mergeRemoteState(bytes: Uint8Array, join: boolean): SerfEffect[] {
    let pp;
    try {
      pp = bytes[0] === SerfMessageType.pushPull ? decodeSerfMessage(bytes) : undefined;
    } catch (err) {
      const kind = err instanceof DecodeError ? err.kind : "internal";
      this.stats.decodeErrors[kind] = (this.stats.decodeErrors[kind] ?? 0) + 1;
      return this.#drain();
    }
    if (pp?.type !== "pushPull") {
      this.stats.decodeErrors["bad-state"] = (this.stats.decodeErrors["bad-state"] ?? 0) + 1;
      return this.#drain();
    }
    this.stats.statesMerged++;
    if (pp.ltime > 0) this.clock.witness(pp.ltime - 1);
    if (pp.eventLTime > 0) this.eventClock.witness(pp.eventLTime - 1);
    if (pp.queryLTime > 0) this.queryClock.witness(pp.queryLTime - 1);
    const left = new Set(pp.leftMembers);
    for (const node of left) {
      this.#onIntent({ type: "leave", ltime: (pp.statusLTimes.get(node) ?? 0) + 1, node });
    }
    for (const [node, ltime] of pp.statusLTimes) {
      if (!left.has(node)) this.#onIntent({ type: "join", ltime, node });
    }
    if (join && this.#ignoreOld && !this.#mergedJoin) {
      this.#eventMinTime = Math.max(this.#eventMinTime, pp.eventLTime);
    }
    if (join) this.#mergedJoin = true;
    for (const slot of pp.events) {
      for (const e of slot.events) {
        this.#onUserEvent({
          type: "userEvent",
          ltime: slot.ltime,
          name: e.name,
          payload: e.payload,
          coalesce: false,
        });
      }
    }
    return this.#drain();
  }

  #mergedJoin = false;

  #drain(): SerfEffect[] {
    const out = this.#out;
    this.#out = [];
    return out;
  }
}

function positive(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 1 || n > 1 << 20) {
    throw new RangeError(`${what} must be an integer from 1 to ${1 << 20}, got ${n}`);
  }
  return n;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Longest tag filter expression we compile. */
const MAX_EXPR = 256;
/** A quantified group containing a quantifier: may backtrack exponentially in JavaScript. */
const NESTED_QUANTIFIER = /\([^)]*[*+}?][^)]*\)\s*[*+{]/;

/**
 * Whether tag value `value` matches serf's filter expression `expr` (Go RE2 syntax,
 * unanchored). Expressions that JavaScript could take exponential time on (nested
 * quantifiers), that are too long or that do not compile match nothing, as serf treats a bad
 * expression.
 *
 * @example
 * ```ts
 * import { matchTag } from "@shoal/swim/serf";
 * console.log(matchTag("^web", "web-1"), matchTag("(?i)DB", "db")); // true true
 * ```
 */
export function matchTag(expr: string, value: string): boolean {
  if (expr.length > MAX_EXPR || NESTED_QUANTIFIER.test(expr)) return false;
  let flags = "";
  let source = expr;
  const m = /^\(\?([imsU]+)\)/.exec(source);
  if (m) {
    source = source.slice(m[0].length);
    if (m[1].includes("i")) flags += "i";
    if (m[1].includes("m")) flags += "m";
    if (m[1].includes("s")) flags += "s";
  }
  try {
    return new RegExp(source, flags).test(value);
  } catch {
    return false;
  }
}
