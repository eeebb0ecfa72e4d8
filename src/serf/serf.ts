/**
 * A serf member: a {@linkcode ShoalNode} with serf's layer on top — tags, user events and
 * queries that interoperate with HashiCorp serf 0.8 agents. This is the shell around
 * {@linkcode SerfState}: it feeds it the node's user messages, membership changes and
 * push/pull state, and performs its effects.
 *
 * @module
 */

import { bytesToIp, ipToBytes } from "../core/address.ts";
import { resolveConfig } from "../core/config.ts";
import type { MembershipEvent } from "../core/effects.ts";
import type { Member } from "../core/member.ts";
import { EventHub } from "../node/events.ts";
import { createNode, type NodeOptions, type ShoalNode } from "../node/node.ts";
import { Channel } from "./_util.ts";
import { UserEventCoalescer } from "./coalesce.ts";
import {
  type IncomingQuery,
  type MemberInfo,
  type SerfEffect,
  type SerfMember,
  SerfState,
  type SerfStats,
  type UserEventData,
} from "./state.ts";
import { decodeSerfTags, encodeSerfTags } from "./tags.ts";

/**
 * The versions a shoal serf member announces: memberlist protocol 1–5 speaking 2, serf's
 * (delegate) protocol 2–5 speaking 5, as a serf 0.8.2 agent does by default.
 */
export const SERF_VSN: Uint8Array = new Uint8Array([1, 5, 2, 2, 5, 5]);

/** Options of {@linkcode createSerf}: the node's, plus serf's. */
export interface SerfOptions
  extends Omit<NodeOptions, "meta" | "vsn" | "localState" | "onRemoteState"> {
  /** Tags (serf's node metadata), ≤ 512 bytes encoded. */
  readonly tags?: Readonly<Record<string, string>>;
  /** Lamport times of user events remembered against duplicates (default 512). */
  readonly eventBuffer?: number;
  /** Lamport times of queries remembered against duplicates (default 512). */
  readonly queryBuffer?: number;
  /**
   * Deliver events sent with `coalesce` only after this many ms, the newest per name
   * (default 0: at once; a serf agent uses 3000).
   */
  readonly coalescePeriod?: number;
  /** With `coalescePeriod`: deliver early after this many quiet ms (default 1000). */
  readonly quiescentPeriod?: number;
  /** Replay the events a join learns of (default false: ignore them, as `serf agent`). */
  readonly replayOnJoin?: boolean;
  /** Default query timeout = gossip interval × this × ⌈log10(n + 1)⌉ (default 16, serf's). */
  readonly queryTimeoutMult?: number;
  /** Largest encoded query sent (default 1024, serf's). */
  readonly querySizeLimit?: number;
  /** Largest encoded response sent (default 1024, serf's). */
  readonly queryResponseSizeLimit?: number;
  /** How long `leave()` lets the leave intent spread before memberlist's leave (default 1 s). */
  readonly leavePropagateMs?: number;
  /**
   * Most other members' messages re-broadcast per second (default 1024): beyond it they are
   * still handled here but not passed on, and counted (the gossip queue stays bounded).
   */
  readonly maxRelaysPerSecond?: number;
}

/** A user event received (or sent by this member). */
export interface SerfUserEvent {
  /** `"user"`. */
  readonly type: "user";
  /** Event-clock time. */
  readonly ltime: number;
  /** Event name. */
  readonly name: string;
  /** Payload. */
  readonly payload: Uint8Array;
  /** The sender allowed coalescing. */
  readonly coalesce: boolean;
}

/** A query to answer: call `respond` once, before `deadline`. */
export interface SerfQueryEvent {
  /** `"query"`. */
  readonly type: "query";
  /** Query-clock time. */
  readonly ltime: number;
  /** Query name. */
  readonly name: string;
  /** Payload. */
  readonly payload: Uint8Array;
  /** `performance.now()` time after which a response is refused. */
  readonly deadline: number;
  /**
   * Answer the asker (≤ 1024 bytes encoded). Throws `RangeError` when too large, after the
   * deadline, or a second time.
   */
  respond(payload: Uint8Array | string): void;
}

/** What {@linkcode Serf.events} yields. */
export type SerfEvent = SerfUserEvent | SerfQueryEvent;

/** An answer to one of our queries. */
export interface QueryReply {
  /** `"ack"`: the member received the query; `"response"`: it answered. */
  readonly type: "ack" | "response";
  /** The member. */
  readonly from: string;
  /** The response (empty for an ack). */
  readonly payload: Uint8Array;
}

/** Options of {@linkcode Serf.query}. */
export interface QueryOptions {
  /** Only these members process it. */
  readonly filterNodes?: readonly string[];
  /** Only members whose tag matches each regular expression (Go syntax, unanchored) do. */
  readonly filterTags?: Readonly<Record<string, string>>;
  /** Wait this many ms for answers (default: serf's, from the gossip interval and size). */
  readonly timeout?: number;
  /** Ask for acks (default true). */
  readonly requestAck?: boolean;
  /** Also relay each response through this many other members (0–5, default 0). */
  readonly relayFactor?: number;
}

/**
 * A query in flight: iterate its acks and responses until the timeout ends it.
 *
 * @example
 * ```ts ignore
 * const q = serf.query("who-has", "key-42", { timeout: 2000 });
 * for await (const r of q) if (r.type === "response") console.log(r.from);
 * ```
 */
export class SerfQuery implements AsyncIterable<QueryReply> {
  readonly #channel: Channel<QueryReply>;
  /** The query's Lamport time. */
  readonly ltime: number;
  /** `performance.now()` time it ends. */
  readonly deadline: number;
  /** Members that acked, so far. */
  readonly acks: string[] = [];
  /** Responses, so far. */
  readonly responses: { readonly from: string; readonly payload: Uint8Array }[] = [];

  /** @internal Made by {@linkcode Serf.query}. */
  constructor(ltime: number, deadline: number, channel: Channel<QueryReply>) {
    this.ltime = ltime;
    this.deadline = deadline;
    this.#channel = channel;
  }

  /** True once the timeout passed (or {@linkcode SerfQuery.close} was called). */
  get done(): boolean {
    return this.#channel.closed;
  }

  /** @internal */
  add(reply: QueryReply): void {
    if (reply.type === "ack") this.acks.push(reply.from);
    else this.responses.push({ from: reply.from, payload: reply.payload });
    this.#channel.push(reply);
  }

  /** Stop waiting for answers. */
  close(): void {
    this.#channel.return();
  }

  /** Wait for the timeout and return every ack and response. */
  async collect(): Promise<{ acks: string[]; responses: { from: string; payload: Uint8Array }[] }> {
    for await (const _ of this.#channel) { /* drain */ }
    return { acks: [...this.acks], responses: [...this.responses] };
  }

  /** The acks and responses as they arrive, ending at the timeout. */
  [Symbol.asyncIterator](): AsyncIterator<QueryReply> {
    return this.#channel;
  }
}

/** Statistics of a serf member. */
export interface SerfMemberStats extends SerfStats {
  /** Broadcasts or sends refused by the node (too large, closed). */
  sendErrors: number;
  /** Other members' messages not re-broadcast: over `maxRelaysPerSecond`. */
  relaysDropped: number;
  /** Events dropped from `events()` subscriptions that fell 4,096 behind. */
  eventsDropped: number;
  /** Exceptions caught in serf's receive path (should stay 0). */
  internalErrors: number;
}

const textEncoder = new TextEncoder();
const toBytes = (p: Uint8Array | string | undefined): Uint8Array =>
  p === undefined ? new Uint8Array(0) : typeof p === "string" ? textEncoder.encode(p) : p;

/**
 * A serf cluster member. Create one with {@linkcode createSerf}.
 *
 * @example
 * ```ts ignore
 * import { createSerf } from "@shoal/swim/serf";
 * await using serf = await createSerf({
 *   name: "cache-1", bind: "127.0.0.1:7946", seeds: ["127.0.0.1:7947"], tags: { role: "cache" },
 * });
 * serf.event("purge", "/index.html");
 * for await (const e of serf.events()) {
 *   if (e.type === "query" && e.name === "who-has") e.respond("yes");
 * }
 * ```
 */
export class Serf implements AsyncDisposable {
  /** The memberlist node underneath. */
  readonly node: ShoalNode;
  readonly #state: SerfState;
  readonly #hub = new EventHub<SerfEvent>(4096);
  readonly #coalescer: UserEventCoalescer<UserEventData>;
  readonly #queries = new Map<number, SerfQuery>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  readonly #gossipInterval: number;
  readonly #timeoutMult: number;
  readonly #leavePropagate: number;
  readonly #unsubscribe: (() => void)[] = [];
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #sendErrors = 0;
  #internalErrors = 0;
  readonly #maxRelays: number;
  #relayWindow = 0;
  #relaysInWindow = 0;
  #relaysDropped = 0;
  #closed = false;

  /** @internal Use {@linkcode createSerf}. */
  constructor(node: ShoalNode, state: SerfState, options: SerfOptions) {
    this.node = node;
    this.#state = state;
    this.#coalescer = new UserEventCoalescer(
      options.coalescePeriod ?? 0,
      options.quiescentPeriod ?? 1000,
    );
    this.#gossipInterval = resolveConfig(options.preset ?? "lan", options.config).gossipInterval;
    this.#timeoutMult = options.queryTimeoutMult ?? 16;
    this.#leavePropagate = options.leavePropagateMs ?? 1000;
    this.#maxRelays = options.maxRelaysPerSecond ?? 1024;
    this.#unsubscribe.push(
      node.onMessage((m) => this.#run(() => state.handleMessage(m.payload))),
      node.onEvent((e) => this.#onMember(e)),
    );
    this.#run(() => state.memberAlive(infoOf(node.localMember())));
    for (const m of node.members("alive")) {
      if (m.name !== node.name) this.#run(() => state.memberAlive(infoOf(m)));
    }
  }

  /** This member's name. */
  get name(): string {
    return this.node.name;
  }

  /** This member's tags. */
  get tags(): Readonly<Record<string, string>> {
    return this.#state.tags;
  }

  /**
   * Replace this member's tags and wait (up to `timeoutMs`) until the update has spread.
   * Throws `RangeError` when they do not fit in 512 bytes.
   *
   * @example
   * ```ts ignore
   * await serf.setTags({ role: "cache", zone: "b" });
   * ```
   */
  async setTags(tags: Readonly<Record<string, string>>, timeoutMs?: number): Promise<void> {
    const meta = encodeSerfTags(tags);
    this.#state.setTags(tags);
    await this.node.updateMeta(meta, timeoutMs);
  }

  /** Members as serf sees them (alive, leaving, left, failed), ourselves included. */
  members(): SerfMember[] {
    return this.#state.members();
  }

  /**
   * Send a user event to every member (this one included). `name` and `payload` together
   * hold at most 512 bytes. With `coalesce`, receivers may deliver only the newest event of
   * this name from a burst (default true, as `serf event`).
   *
   * @example
   * ```ts ignore
   * serf.event("purge", "/assets/app.js", { coalesce: false });
   * ```
   */
  event(name: string, payload?: Uint8Array | string, options: { coalesce?: boolean } = {}): void {
    this.#assertOpen();
    this.#run(() => this.#state.userEvent(name, toBytes(payload), options.coalesce ?? true), true);
  }

  /**
   * Ask the cluster (or the members the filters select): every member that processes the
   * query acks it (unless `requestAck: false`) and may respond. Iterate the returned
   * {@linkcode SerfQuery} for acks and responses; it ends at the timeout. Throws
   * `RangeError` when the encoded query exceeds 1024 bytes.
   *
   * @example
   * ```ts ignore
   * const q = serf.query("who-has", "user:42", { filterTags: { role: "cache" }, timeout: 1000 });
   * const { responses } = await q.collect();
   * console.log(responses.map((r) => r.from));
   * ```
   */
  query(name: string, payload?: Uint8Array | string, options: QueryOptions = {}): SerfQuery {
    this.#assertOpen();
    const timeout = options.timeout ?? this.defaultQueryTimeout();
    if (!(timeout > 0) || timeout > 600_000) {
      throw new RangeError(`query timeout must be 1 ms to 10 min, got ${timeout}`);
    }
    const started = this.#state.query(name, toBytes(payload), {
      filterNodes: options.filterNodes,
      filterTags: options.filterTags,
      requestAck: options.requestAck,
      relayFactor: options.relayFactor,
      timeout,
    });
    const { ltime } = started;
    const channel = new Channel<QueryReply>(8192, () => this.#endQuery(ltime));
    const q = new SerfQuery(ltime, started.deadline, channel);
    this.#queries.set(ltime, q);
    this.#after(timeout, () => this.#endQuery(ltime));
    this.#apply(started.effects);
    return q;
  }

  /** serf's default query timeout for the current cluster size, in ms. */
  defaultQueryTimeout(): number {
    const n = this.node.members("alive").length;
    return this.#gossipInterval * this.#timeoutMult * Math.ceil(Math.log10(n + 1));
  }

  /**
   * User events and queries from now on (a reader 4,096 behind loses the oldest). Queries
   * whose name starts with `_serf_` are serf's own and are not delivered.
   *
   * @example
   * ```ts ignore
   * for await (const e of serf.events()) {
   *   if (e.type === "user") console.log("event", e.name);
   *   else e.respond(`pong from ${serf.name}`);
   * }
   * ```
   */
  events(): AsyncIterableIterator<SerfEvent> {
    return this.#hub.subscribe();
  }

  /** Call `listener` for every user event and query; returns an unsubscribe function. */
  onEvent(listener: (event: SerfEvent) => void): () => void {
    return this.#hub.listen(listener);
  }

  /** Join more members through `seeds` (`"host:port"` each). */
  join(seeds: readonly string[]): void {
    this.#assertOpen();
    this.node.join(seeds);
    this.#run(() => this.#state.broadcastJoin(), true);
  }

  /**
   * Leave gracefully: broadcast serf's leave intent (so others list us as left, not failed),
   * let it spread, then leave memberlist (waiting up to `timeoutMs` for that to spread).
   */
  async leave(timeoutMs?: number): Promise<void> {
    this.#assertOpen();
    this.#run(() => this.#state.leave(), true);
    await new Promise<void>((resolve) => this.#after(this.#leavePropagate, resolve));
    if (!this.node.closed) await this.node.leave(timeoutMs);
  }

  /** Counters of the serf layer. */
  stats(): SerfMemberStats {
    return {
      ...this.#state.stats,
      decodeErrors: { ...this.#state.stats.decodeErrors },
      sendErrors: this.#sendErrors,
      relaysDropped: this.#relaysDropped,
      eventsDropped: this.#hub.dropped,
      internalErrors: this.#internalErrors,
    };
  }

  /** Stop: end queries and subscriptions, close the node (no leave; see {@linkcode Serf.leave}). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const off of this.#unsubscribe) off();
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer);
    for (const ltime of [...this.#queries.keys()]) this.#endQuery(ltime);
    this.#hub.close();
    await this.node.close();
  }

  /** Same as {@linkcode Serf.close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** @internal A peer's push/pull state arrived. */
  mergeRemoteState(state: Uint8Array, join: boolean): void {
    this.#run(() => this.#state.mergeRemoteState(state, join));
  }

  #onMember(e: MembershipEvent): void {
    const s = this.#state;
    switch (e.type) {
      case "join":
      case "alive":
        this.#run(() => s.memberAlive(infoOf(e.member)));
        break;
      case "update":
        this.#run(() => s.memberUpdate(infoOf(e.member)));
        break;
      case "leave":
      case "dead":
        this.#run(() => s.memberDown(e.member.name));
        break;
    }
  }

  #endQuery(ltime: number): void {
    const q = this.#queries.get(ltime);
    if (q === undefined) return;
    this.#queries.delete(ltime);
    this.#state.endQuery(ltime);
    q.close();
  }

  #after(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    (t as unknown as { unref?: () => void }).unref?.();
    this.#timers.add(t);
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error("serf member is closed");
  }

  /** Run a state step and perform its effects; API steps may throw, network steps never do. */
  #run(step: () => SerfEffect[], api = false): void {
    if (this.#closed) return;
    let effects: SerfEffect[];
    try {
      effects = step();
    } catch (err) {
      if (api) throw err;
      this.#internalErrors++;
      return;
    }
    this.#apply(effects);
  }

  #apply(effects: SerfEffect[]): void {
    for (const e of effects) {
      try {
        this.#perform(e);
      } catch {
        this.#sendErrors++;
      }
    }
  }

  #perform(e: SerfEffect): void {
    switch (e.type) {
      case "broadcast":
        if (e.relay && !this.#relayAllowed()) this.#relaysDropped++;
        else if (!this.node.closed) this.node.broadcast(e.bytes);
        break;
      case "send":
        if (!this.node.closed) this.node.send({ host: bytesToIp(e.ip), port: e.port }, e.bytes);
        break;
      case "userEvent":
        for (const ev of this.#coalescer.add(e.event, performance.now())) this.#deliverEvent(ev);
        this.#scheduleFlush();
        break;
      case "query":
        if (!e.query.name.startsWith("_serf_")) this.#hub.publish(this.#queryEvent(e.query));
        break;
      case "reply":
        this.#queries.get(e.ltime)?.add({ type: e.kind, from: e.from, payload: e.payload });
        break;
    }
  }

  /** One more re-broadcast this second, if under the limit. */
  #relayAllowed(): boolean {
    const second = Math.floor(performance.now() / 1000);
    if (second !== this.#relayWindow) {
      this.#relayWindow = second;
      this.#relaysInWindow = 0;
    }
    return ++this.#relaysInWindow <= this.#maxRelays;
  }

  #deliverEvent(ev: UserEventData): void {
    this.#hub.publish({ type: "user", ...ev });
  }

  #scheduleFlush(): void {
    const at = this.#coalescer.flushAt;
    if (at === Infinity || this.#flushTimer !== undefined) return;
    const t = setTimeout(() => {
      this.#flushTimer = undefined;
      this.#timers.delete(t);
      if (this.#closed) return;
      if (performance.now() >= this.#coalescer.flushAt - 1) {
        for (const ev of this.#coalescer.flush()) this.#deliverEvent(ev);
      }
      this.#scheduleFlush();
    }, Math.max(0, at - performance.now()));
    (t as unknown as { unref?: () => void }).unref?.();
    this.#timers.add(t);
    this.#flushTimer = t;
  }

  #queryEvent(q: IncomingQuery): SerfQueryEvent {
    return {
      type: "query",
      ltime: q.ltime,
      name: q.name,
      payload: q.payload,
      deadline: q.deadline,
      respond: (payload) => {
        this.#assertOpen();
        this.#run(() => this.#state.respond(q, toBytes(payload)), true);
      },
    };
  }
}

function infoOf(m: Member): MemberInfo {
  let tags: Record<string, string>;
  try {
    tags = decodeSerfTags(m.meta);
  } catch {
    tags = {};
  }
  return {
    name: m.name,
    address: m.address,
    addr: ipToBytes(m.address),
    port: m.port,
    tags,
    protocol: [2, 5, 5],
  };
}

/**
 * Start a serf member: a node announcing serf's versions and tags, with serf's push/pull
 * state, joined to `seeds` (serf agents or other shoal serf members).
 *
 * @example
 * ```ts ignore
 * import { createSerf } from "@shoal/swim/serf";
 * const serf = await createSerf({ name: "edge-1", bind: "127.0.0.1:7950", tags: { dc: "a" } });
 * console.log(serf.members().map((m) => `${m.name} ${m.status}`));
 * await serf.close();
 * ```
 */
export async function createSerf(options: SerfOptions): Promise<Serf> {
  const tags = { ...options.tags };
  let serf: Serf | undefined;
  let state: SerfState | undefined;
  const early: [Uint8Array, boolean][] = [];
  const node = await createNode({
    ...options,
    meta: encodeSerfTags(tags),
    vsn: SERF_VSN,
    localState: () => state?.localState() ?? new Uint8Array(0),
    onRemoteState: (buf, join) => {
      if (serf) serf.mergeRemoteState(buf, join);
      else if (early.length < 16) early.push([buf, join]);
    },
  });
  try {
    state = new SerfState({
      name: node.name,
      tags,
      addr: ipToBytes(node.address.host),
      port: node.address.port,
      now: () => performance.now(),
      rng: options.rng ? () => options.rng!.next() : Math.random,
      eventBuffer: options.eventBuffer,
      queryBuffer: options.queryBuffer,
      ignoreOldEvents: !(options.replayOnJoin ?? false),
      querySizeLimit: options.querySizeLimit,
      queryResponseSizeLimit: options.queryResponseSizeLimit,
    });
    serf = new Serf(node, state, options);
  } catch (err) {
    await node.close();
    throw err;
  }
  for (const [buf, join] of early) serf.mergeRemoteState(buf, join);
  return serf;
}
