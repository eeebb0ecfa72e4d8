/**
 * The node API: a {@linkcode Swim} core wired to a datagram transport and real timers.
 *
 * This is the "shell" around the pure core: it performs the core's effects (send datagrams,
 * schedule timers with `unref`'d `setTimeout`, publish events) and feeds it packets and timer
 * firings. Nothing here decides protocol behaviour.
 *
 * @module
 */

import {
  formatAddress,
  parseAddress,
  parseSeed,
  type PeerAddress,
  type SeedAddress,
} from "../core/address.ts";
import { type Codec, DecodeError } from "../core/codec.ts";
import { type ConfigOverrides, type ConfigPreset, resolveConfig } from "../core/config.ts";
import type { Effect, MembershipEvent, ResolveResult } from "../core/effects.ts";
import type { Member, MemberState } from "../core/member.ts";
import type { Rng } from "../core/rng.ts";
import type { CoreStats } from "../core/stats.ts";
import { Swim } from "../core/swim.ts";
import { type MemberView, ViewCoalescer, type ViewOptions } from "../core/views.ts";
import { detectDatagramBinder, detectStreamBinder } from "../transport/auto.ts";
import type { StreamBinder } from "../transport/stream_types.ts";
import {
  AddressInUseError,
  type DatagramBinder,
  type DatagramTransport,
  type TransportStats,
} from "../transport/types.ts";
import { createMemberlistCodec } from "../wire/codec.ts";
import { Keyring } from "../wire/keyring.ts";
import { createPacketSecurity, type PacketSecurity } from "../wire/packet_security.ts";
import type { SecurityOptions } from "../wire/security.ts";
import { StreamEndpoint, type StreamStats } from "./streams.ts";
import { pickAdvertiseHost } from "./advertise.ts";
import { EventHub } from "./events.ts";
import { loadState, saveState, startingIncarnation } from "./persist.ts";
import { type SeedResolver, systemResolver } from "./resolve.ts";

/** Options of {@linkcode createNode}. */
export interface NodeOptions {
  /** Unique member name (may be omitted when `dataDir` remembers one). */
  readonly name?: string;
  /**
   * A directory to remember the name and incarnation in, so a restart rejoins at once with
   * an incarnation above anything its previous life announced.
   */
  readonly dataDir?: string;
  /** Told when the state file in `dataDir` is empty or corrupt (the node starts without it). */
  readonly onDataDirProblem?: (problem: { readonly path: string; readonly reason: string }) => void;
  /** Address to bind, `"host:port"` (default `"0.0.0.0:7946"`; port 0 picks one). */
  readonly bind?: string;
  /** Address others should use, `"host:port"` (default: the bound address, or a local IP). */
  readonly advertise?: string;
  /**
   * Members to join through, `"host:port"` each. The host may be a DNS name (A/AAAA, or SRV
   * as `_service._proto.domain`): it is resolved again for every join attempt and re-announce,
   * so one service name keeps working as instances come and go. A name that does not resolve
   * is retried (and reported to `onResolve`); a malformed seed throws `AddressError` at once.
   */
  readonly seeds?: readonly string[];
  /** Resolves seed names (default {@linkcode systemResolver}; inject one for tests). */
  readonly resolver?: SeedResolver;
  /** Most time one seed name may take to resolve, in ms (default 5000). */
  readonly resolveTimeoutMs?: number;
  /** Told the outcome of every seed name lookup: its addresses, or the error. */
  readonly onResolve?: (result: ResolveResult) => void;
  /** Application metadata, ≤ 512 bytes. */
  readonly meta?: Uint8Array;
  /** Timing preset (default `"lan"`). */
  readonly preset?: ConfigPreset;
  /** Overrides of the preset. */
  readonly config?: ConfigOverrides;
  /** Datagram transport: a binder, or auto-detected from the runtime. */
  readonly transport?: DatagramBinder;
  /** Wire format (default: memberlist's). */
  readonly codec?: Codec;
  /** Randomness (default `Math.random`). */
  readonly rng?: Rng;
  /**
   * Keep the process alive while the node is open, as a server would (default true). With
   * `false` an open node never holds the process; either way nothing does after `close()`.
   */
  readonly keepAlive?: boolean;
  /**
   * Stream transport (memberlist's TCP, on the same port as UDP) for push/pull sync, the
   * fallback probe and reliable messages: auto-detected from the runtime when `transport` is
   * too; `false` runs datagrams only.
   */
  readonly streams?: StreamBinder | false;
  /**
   * Gossip encryption keys (AES-GCM; 16, 24 or 32 bytes, or base64 text): the first encrypts,
   * all decrypt. Or pass a {@linkcode Keyring} to add, use and remove keys at run time.
   */
  readonly keys?: readonly (Uint8Array | string)[] | Keyring;
  /** Cluster label (memberlist ≥ 0.3): labelled and unlabelled clusters never mix. */
  readonly label?: string;
  /** Accept unlabelled input although a label is set (while rolling labels out). */
  readonly skipInboundLabelCheck?: boolean;
  /** With keys: refuse unencrypted input (default true; false while rolling encryption out). */
  readonly verifyIncoming?: boolean;
  /** With keys: encrypt output (default true; false during the first rollout phase). */
  readonly verifyOutgoing?: boolean;
  /** Encryption version for output: 1 (default, as Go) or 0 (legacy padded). */
  readonly encryptionVersion?: 0 | 1;
  /** LZW-compress packets (when smaller) and streams, as Go does by default (default true). */
  readonly compress?: boolean;
  /**
   * With keys or a label: most received datagrams being opened (decrypted) at once (default
   * 256). Datagrams arriving beyond it are dropped and counted as `overloaded`.
   */
  readonly maxDecryptsInFlight?: number;
  /**
   * The protocol versions announced, `[PMin, PMax, PCur, DMin, DMax, DCur]` (default
   * `[1, 5, 2, 0, 0, 0]`): a layer on top (serf) sets its delegate versions here.
   */
  readonly vsn?: Uint8Array;
  /**
   * User state sent with every push/pull (memberlist's delegate `LocalState(join)`), as a
   * layer on top (serf) needs; a peer's arrives at `onRemoteState`.
   */
  readonly localState?: (join: boolean) => Uint8Array;
  /** A peer's push/pull user state, once its push/pull merged (`MergeRemoteState(buf, join)`). */
  readonly onRemoteState?: (state: Uint8Array, join: boolean) => void;
}

/** A user message received from another member. */
export interface UserMessageEvent {
  /** The bytes the sender passed to `send` or `broadcast`. */
  readonly payload: Uint8Array;
  /** Where it came from (the datagram's or connection's source). */
  readonly from: PeerAddress;
}

/** Statistics of a running node. */
export interface NodeStats {
  /** Local health score (Lifeguard awareness): 0 is healthy. */
  readonly healthScore: number;
  /** Protocol counters. */
  readonly core: CoreStats;
  /** Socket counters. */
  readonly transport: TransportStats;
  /** Rumours waiting to be gossiped. */
  readonly queueDepth: number;
  /** Stream counters (absent without streams). */
  readonly streams?: StreamStats;
  /** Exceptions caught in the receive or timer path (should stay 0). */
  readonly internalErrors: number;
  /** Seed name lookups (absent until a seed name was looked up). */
  readonly seedLookups?: {
    /** Names looked up. */
    readonly total: number;
    /** Lookups that failed or timed out (the name is tried again at the next attempt). */
    readonly failed: number;
  };
  /** Membership events dropped from `events()` subscriptions that fell 65,536 behind. */
  readonly eventsDropped: number;
  /** User messages dropped from `messages()` subscriptions that fell 4,096 behind. */
  readonly messagesDropped: number;
  /** Datagrams being opened (absent without keys or a label). */
  readonly decrypts?: {
    /** Opening now. */
    readonly inFlight: number;
    /** Most ever open at once. */
    readonly peak: number;
    /** The bound (`maxDecryptsInFlight`). */
    readonly limit: number;
  };
}

const DEFAULT_SETTLE_TIMEOUT = 5000;
const DEFAULT_MAX_DECRYPTS_IN_FLIGHT = 256;
const DEFAULT_RESOLVE_TIMEOUT = 5000;

/**
 * A running cluster member. Create one with {@linkcode createNode}.
 *
 * @example
 * ```ts
 * import { createNode } from "@shoal/swim";
 * await using node = await createNode({ name: "a", bind: "127.0.0.1:7946" });
 * for await (const ev of node.events()) console.log(ev.type, ev.member.name);
 * ```
 */
export class ShoalNode implements AsyncDisposable {
  readonly #swim: Swim;
  readonly #transport: DatagramTransport;
  readonly #hub = new EventHub<MembershipEvent>();
  /** User messages arrive from the network: a reader that stops keeps the latest 4,096. */
  readonly #messages = new EventHub<UserMessageEvent>(4096);
  readonly #security: PacketSecurity;
  readonly #streams: StreamEndpoint | undefined;
  /** The keyring, when the node encrypts: add, use and remove keys at run time. */
  readonly keyring: Keyring | undefined;
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  readonly #waiters: { what: string; resolve: () => void }[] = [];
  /** Ends each open `views()` subscription (called by close). */
  readonly #viewEnds = new Set<() => void>();
  #closed = false;
  #internalErrors = 0;
  readonly #maxDecrypts: number;
  #decrypting = 0;
  #decryptPeak = 0;
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  /** The address others use to reach this node. */
  readonly address: PeerAddress;

  readonly #dataDir: string | undefined;
  readonly #resolver: SeedResolver;
  readonly #resolveTimeout: number;
  readonly #onResolve: ((result: ResolveResult) => void) | undefined;
  readonly #onRemoteState: ((state: Uint8Array, join: boolean) => void) | undefined;
  #lookups = 0;
  #lookupsFailed = 0;
  #savedIncarnation = -1;
  #saving: Promise<void> = Promise.resolve();
  #saveQueued = false;

  /** @internal Use {@linkcode createNode}. */
  constructor(parts: NodeParts) {
    this.#swim = parts.swim;
    this.#transport = parts.transport;
    this.address = parts.address;
    this.#dataDir = parts.dataDir;
    this.#security = parts.security;
    this.#maxDecrypts = parts.maxDecryptsInFlight;
    this.keyring = parts.keyring;
    this.#resolver = parts.resolver;
    this.#resolveTimeout = parts.resolveTimeoutMs;
    this.#onResolve = parts.onResolve;
    this.#onRemoteState = parts.onRemoteState;
    const streams = parts.streams;
    this.#streams = streams &&
      new StreamEndpoint(streams.binder, {
        swim: this.#swim,
        apply: (effects) => {
          if (!this.#closed) this.#apply(effects); // never throws
        },
        timeoutMs: streams.timeoutMs,
        security: streams.security,
        compress: streams.compress,
      });
    parts.connect({
      deliver: (bytes, from) => this.#deliver(bytes, from),
      listen: async (host, port) => await this.#streams?.listen(host, port),
      begin: (seeds, keepAlive) => this.#begin(seeds, keepAlive),
    });
  }

  #deliver(bytes: Uint8Array, from: PeerAddress): void {
    if (this.#closed) return;
    if (!this.#security.active) {
      this.#run(() => this.#swim.handlePacket(bytes, from));
      return;
    }
    if (this.#decrypting >= this.#maxDecrypts) {
      this.#swim.recordDropped("overloaded");
      return;
    }
    this.#decrypting++;
    if (this.#decrypting > this.#decryptPeak) this.#decryptPeak = this.#decrypting;
    this.#security.open(bytes).then(
      (plain) => {
        this.#decrypting--;
        if (!this.#closed) this.#run(() => this.#swim.handlePacket(plain, from));
      },
      (err) => {
        this.#decrypting--;
        this.#swim.recordDropped(err instanceof DecodeError ? err.kind : "decrypt-failed");
      },
    ).catch(() => this.#internalErrors++);
  }

  #begin(seeds: readonly SeedAddress[], keepAlive: boolean): void {
    // Sockets and protocol timers are unref'd; this one handle (released by close) is what
    // keeps a process with an open node running.
    if (keepAlive) this.#keepAlive = setInterval(() => {}, 1 << 30);
    this.#run(() => this.#swim.start(), true);
    if (seeds.length) this.#run(() => this.#swim.join(seeds), true);
  }

  /** This node's name. */
  get name(): string {
    return this.#swim.name;
  }

  /** True after {@linkcode ShoalNode.close}. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Known members, this node included. Pass states to filter, e.g. `members("alive")`.
   *
   * @example
   * ```ts ignore
   * const alive = node.members("alive", "suspect").map((m) => m.name);
   * ```
   */
  members(...states: MemberState[]): Member[] {
    const all = this.#swim.members();
    return states.length ? all.filter((m) => states.includes(m.state)) : all;
  }

  /** One member by name. */
  member(name: string): Member | undefined {
    return this.#swim.member(name);
  }

  /** This node as others see it. */
  localMember(): Member {
    return this.#swim.localMember();
  }

  /**
   * Membership events from now on: `join | update | suspect | alive | leave | dead`. Each call
   * is an independent subscription that ends when the node closes; none is dropped unless it
   * falls 65,536 events behind (counted in `stats().eventsDropped`).
   */
  events(): AsyncIterableIterator<MembershipEvent> {
    return this.#hub.subscribe();
  }

  /** Call `listener` for every event; returns an unsubscribe function. */
  onEvent(listener: (event: MembershipEvent) => void): () => void {
    return this.#hub.listen(listener);
  }

  /**
   * Settled views of the cluster: the first at once (or, with `initial: "settled"`, once the
   * membership has been quiet for `settle` ms), then a new one once membership changes have
   * been quiet for `settle` ms (default 1000), or at the latest `maxDelay` ms (default 5000)
   * after the first change it folds in while changes keep coming, so a crash is reported
   * within `maxDelay` of its detection. Only changes to the view count: a member entering or
   * leaving it, or its address or metadata changing. By default the view holds alive,
   * suspect and unreachable members, so a suspicion (and its refutation) is no change; pass
   * `states: ["alive"]` to drop suspects at once. A view that would not differ from the
   * previous one is not emitted.
   *
   * Each call is an independent subscription that ends when the node closes or the iterator
   * is returned. A reader that falls behind is not queued views: it gets the latest one,
   * with every change since the last view it read, when it next asks.
   *
   * @example
   * ```ts ignore
   * for await (const view of node.views({ settle: 2000, maxDelay: 10_000 })) {
   *   ring.rebuild(view.members.map((m) => m.name)); // a few times, not once per newcomer
   * }
   * ```
   */
  views(options: ViewOptions = {}): AsyncIterableIterator<MemberView> {
    const now = () => performance.now();
    const views = new ViewCoalescer(this.#swim.members(), options, now());
    let ended = this.#closed;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let wake: (() => void) | undefined;
    const arm = (at: number | undefined) => {
      if (at === undefined || ended) return;
      const handle = setTimeout(() => {
        this.#timers.delete(handle);
        timer = undefined;
        if (ended) return;
        arm(views.poll(now()));
        if (views.due) wake?.();
      }, Math.max(0, at - now()));
      (handle as unknown as { unref?: () => void }).unref?.();
      this.#timers.add(handle);
      timer = handle;
    };
    const unlisten = this.#hub.listen((event) => arm(views.observe(event.member, now())));
    const end = () => {
      ended = true;
      unlisten();
      if (timer !== undefined) {
        clearTimeout(timer);
        this.#timers.delete(timer);
        timer = undefined;
      }
      this.#viewEnds.delete(end);
      wake?.();
    };
    if (ended) end();
    else this.#viewEnds.add(end);
    arm(views.poll(now()));
    const done = (): IteratorResult<MemberView> => ({ done: true, value: undefined });
    const iterator: AsyncIterableIterator<MemberView> = {
      next: async (): Promise<IteratorResult<MemberView>> => {
        for (;;) {
          if (ended) return done();
          if (views.due) {
            const view = views.take(now());
            if (view) return { done: false, value: view };
            continue; // the changes cancelled out: wait for the next ones
          }
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
        }
      },
      return: (): Promise<IteratorResult<MemberView>> => {
        end();
        return Promise.resolve(done());
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  /** User messages from now on (sent with `send` or `broadcast` by any member). */
  messages(): AsyncIterableIterator<UserMessageEvent> {
    return this.#messages.subscribe();
  }

  /** Call `listener` for every user message; returns an unsubscribe function. */
  onMessage(listener: (message: UserMessageEvent) => void): () => void {
    return this.#messages.listen(listener);
  }

  /**
   * Send `payload` to one member (by name, or an address): best effort in one datagram by
   * default, or `reliable` over a stream.
   *
   * @example
   * ```ts ignore
   * node.send("b", new TextEncoder().encode("hello"), { reliable: true });
   * ```
   */
  send(to: string | PeerAddress, payload: Uint8Array, options: { reliable?: boolean } = {}): void {
    this.#assertOpen();
    let address: PeerAddress;
    if (typeof to === "string") {
      const m = this.#swim.member(to);
      if (!m) throw new Error(`no member named ${to}`);
      address = { host: m.address, port: m.port };
    } else address = to;
    const effects = this.#swim.sendUser(address, payload, options.reliable ?? false);
    this.#apply(effects);
  }

  /**
   * Gossip `payload` to the cluster, piggy-backed on protocol traffic with room reserved for
   * it. Like memberlist's delegate broadcasts, only this member transmits it (a bounded
   * number of times); receivers do not relay it.
   */
  broadcast(payload: Uint8Array): void {
    this.#assertOpen();
    this.#apply(this.#swim.broadcast(payload));
  }

  /**
   * Announce through more seeds, `"host:port"` each; the host may be a DNS name, resolved for
   * every attempt (see `NodeOptions.seeds`). Throws `AddressError` for a malformed seed.
   *
   * @example
   * ```ts ignore
   * node.join(["seed.shoal.test:7946", "10.0.0.2:7946"]);
   * ```
   */
  join(seeds: readonly string[]): void {
    this.#assertOpen();
    const addrs = seeds.map((s) => parseSeed(s));
    this.#run(() => this.#swim.join(addrs), true);
  }

  /**
   * Replace this node's metadata and wait (up to `timeoutMs`) until the update has been
   * gossiped its full number of times.
   */
  async updateMeta(meta: Uint8Array, timeoutMs = DEFAULT_SETTLE_TIMEOUT): Promise<void> {
    this.#assertOpen();
    const settled = this.#waitFor("meta", timeoutMs);
    this.#run(() => this.#swim.updateMeta(meta), true);
    await settled;
  }

  /**
   * Leave the cluster gracefully: others will see this node as `left`, not `dead`. Waits (up
   * to `timeoutMs`) for the announcement to spread. The node keeps answering pings until
   * {@linkcode ShoalNode.close}.
   */
  async leave(timeoutMs = DEFAULT_SETTLE_TIMEOUT): Promise<void> {
    this.#assertOpen();
    if (this.#swim.leaving) return;
    const settled = this.#waitFor("leave", timeoutMs);
    this.#run(() => this.#swim.leave(), true);
    await settled;
  }

  /**
   * With `confirmDeaths` on: declare a member held as `unreachable` dead. Returns false if
   * it is not unreachable (it may have refuted meanwhile).
   */
  confirmDead(name: string): boolean {
    this.#assertOpen();
    const { confirmed, effects } = this.#swim.confirmDead(name);
    this.#apply(effects);
    return confirmed;
  }

  /** Local health score (Lifeguard): 0 is healthy; probes slow down as it rises. */
  get healthScore(): number {
    return this.#swim.healthScore;
  }

  /** Counters for metrics. */
  stats(): NodeStats {
    return {
      healthScore: this.#swim.healthScore,
      core: this.#swim.stats,
      transport: this.#transport.stats,
      queueDepth: this.#swim.queueDepth,
      streams: this.#streams?.stats,
      internalErrors: this.#internalErrors,
      seedLookups: this.#lookups
        ? { total: this.#lookups, failed: this.#lookupsFailed }
        : undefined,
      eventsDropped: this.#hub.dropped,
      messagesDropped: this.#messages.dropped,
      decrypts: this.#security.active
        ? { inFlight: this.#decrypting, peak: this.#decryptPeak, limit: this.#maxDecrypts }
        : undefined,
    };
  }

  /**
   * Stop: close the socket, drop every timer, end event streams. Does not leave first (others
   * will detect a failure); call {@linkcode ShoalNode.leave} before for a graceful exit.
   * Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    if (this.#keepAlive !== undefined) clearInterval(this.#keepAlive);
    for (const w of this.#waiters.splice(0)) w.resolve();
    for (const end of [...this.#viewEnds]) end();
    this.#hub.close();
    this.#messages.close();
    await this.#streams?.close();
    await this.#transport.close();
    await this.#saving;
  }

  /** `await using` support: same as {@linkcode ShoalNode.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error(`node ${this.name} is closed`);
  }

  #waitFor(what: string, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const waiter = {
        what,
        resolve: () => {
          clearTimeout(timer);
          const i = this.#waiters.indexOf(waiter);
          if (i >= 0) this.#waiters.splice(i, 1);
          resolve();
        },
      };
      const timer = setTimeout(waiter.resolve, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /**
   * Run a core step and apply its effects. A step that throws is counted as an internal
   * error, except that an API call (`api`) passes a `RangeError` or `SwimStateError` on to its
   * caller. Never throws otherwise.
   */
  #run(step: () => Effect[], api = false): void {
    let effects: Effect[];
    try {
      effects = step();
    } catch (err) {
      if (api && (err instanceof RangeError || (err as Error)?.name === "SwimStateError")) {
        throw err;
      }
      this.#internalErrors++;
      return;
    }
    this.#apply(effects);
  }

  /**
   * Persist our incarnation whenever it changes (data directory only), one write at a time;
   * changes while a write is queued are folded into it, so at most two are pending.
   */
  #persist(): void {
    if (this.#dataDir === undefined) return;
    if (this.#swim.localMember().incarnation === this.#savedIncarnation) return;
    this.#savedIncarnation = this.#swim.localMember().incarnation;
    if (this.#saveQueued) return;
    this.#saveQueued = true;
    const dir = this.#dataDir;
    this.#saving = this.#saving.then(() => {
      this.#saveQueued = false;
      return saveState(dir, { name: this.name, incarnation: this.#savedIncarnation });
    }).catch(() => {
      this.#internalErrors++;
    });
  }

  /** Perform the core's effects. Never throws: a failing effect is an internal error. */
  #apply(effects: Effect[]): void {
    try {
      this.#persist();
    } catch {
      this.#internalErrors++;
    }
    for (const e of effects) {
      try {
        this.#perform(e);
      } catch {
        this.#internalErrors++;
      }
    }
  }

  #perform(e: Effect): void {
    switch (e.type) {
      case "send":
        if (this.#security.active) {
          this.#security.seal(e.bytes).then((sealed) => this.#transport.send(e.to, sealed))
            .catch(() => this.#internalErrors++);
        } else this.#transport.send(e.to, e.bytes);
        break;
      case "pushPull":
      case "streamPing":
      case "userStream":
        this.#streams?.perform(e);
        break;
      case "user":
        this.#messages.publish({ payload: e.payload, from: e.from });
        break;
      case "remoteState":
        this.#onRemoteState?.(e.state, e.join); // a throw is counted by #apply
        break;
      case "schedule": {
        const handle = setTimeout(() => {
          this.#timers.delete(handle);
          if (!this.#closed) this.#run(() => this.#swim.handleTimer(e.timer)); // never throws
        }, e.delay);
        (handle as unknown as { unref?: () => void }).unref?.();
        this.#timers.add(handle);
        break;
      }
      case "event":
        this.#hub.publish(e.event);
        break;
      case "settled":
        for (const w of [...this.#waiters]) if (w.what === e.what) w.resolve();
        break;
      case "resolve":
        Promise.all(e.names.map((name) => this.#lookup(name))).then((results) => {
          if (!this.#closed) this.#run(() => this.#swim.handleResolved(e.token, results));
        }).catch(() => this.#internalErrors++);
        break;
    }
  }

  /** Resolve one seed name, bounded by the timeout; never rejects. */
  async #lookup(name: string): Promise<ResolveResult> {
    this.#lookups++;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`timed out after ${this.#resolveTimeout} ms`)),
        this.#resolveTimeout,
      );
      (timer as unknown as { unref?: () => void }).unref?.();
      this.#timers.add(timer);
    });
    let result: ResolveResult;
    try {
      const addresses = await Promise.race([Promise.resolve(name).then(this.#resolver), timeout]);
      result = addresses.length
        ? { name, addresses: [...addresses] }
        : { name, error: "no addresses" };
    } catch (err) {
      result = { name, error: err instanceof Error ? err.message : String(err) };
    } finally {
      clearTimeout(timer);
      this.#timers.delete(timer!);
    }
    if (result.error !== undefined) this.#lookupsFailed++;
    try {
      this.#onResolve?.(result);
    } catch {
      this.#internalErrors++;
    }
    return result;
  }
}

/**
 * Start a cluster member: bind the socket, start probing and gossiping, and join `seeds`.
 *
 * @example
 * ```ts
 * import { createNode } from "@shoal/swim";
 * await using node = await createNode({
 *   name: "a",
 *   bind: "127.0.0.1:7946",
 *   seeds: ["127.0.0.1:7947"],
 *   meta: new TextEncoder().encode("web"),
 * });
 * console.log(node.members().map((m) => `${m.name} ${m.state}`));
 * ```
 */
export async function createNode(options: NodeOptions): Promise<ShoalNode> {
  const persisted = options?.dataDir
    ? await loadState(options.dataDir, { onProblem: options.onDataDirProblem })
    : undefined;
  const name = options?.name ?? persisted?.name;
  if (typeof name !== "string" || name === "") {
    throw new TypeError("createNode: `name` must be a non-empty string");
  }
  if (persisted && options.name !== undefined && persisted.name !== options.name) {
    throw new Error(
      `data directory ${options.dataDir} belongs to node "${persisted.name}", not "${name}"`,
    );
  }
  const keyring = toKeyring(options.keys);
  const securityOptions: SecurityOptions = {
    keyring,
    label: options.label,
    skipInboundLabelCheck: options.skipInboundLabelCheck,
    verifyIncoming: options.verifyIncoming,
    verifyOutgoing: options.verifyOutgoing,
    encryptionVersion: options.encryptionVersion,
  };
  const security = createPacketSecurity(securityOptions);
  const maxDecryptsInFlight = options.maxDecryptsInFlight ?? DEFAULT_MAX_DECRYPTS_IN_FLIGHT;
  if (!Number.isSafeInteger(maxDecryptsInFlight) || maxDecryptsInFlight < 1) {
    throw new RangeError(
      `createNode: maxDecryptsInFlight must be a positive integer, got ${maxDecryptsInFlight}`,
    );
  }
  const compress = options.compress ?? true;
  const config = resolveConfig(options.preset ?? "lan", {
    ...options.config,
    packetOverhead: (options.config?.packetOverhead ?? 0) + security.overhead,
  });
  const bind = parseAddress(options.bind ?? "0.0.0.0:7946");
  const seeds = (options.seeds ?? []).map((s) => parseSeed(s));
  const resolveTimeoutMs = options.resolveTimeoutMs ?? DEFAULT_RESOLVE_TIMEOUT;
  if (!(resolveTimeoutMs > 0)) {
    throw new RangeError(`createNode: resolveTimeoutMs must be positive, got ${resolveTimeoutMs}`);
  }
  const binder = options.transport ?? await detectDatagramBinder();
  // Streams are auto-detected along with the datagram transport; a caller who brings their
  // own datagram transport brings their own streams too (or runs datagrams only).
  const streamBinder = options.streams === false
    ? undefined
    : options.streams ?? (options.transport ? undefined : await detectStreamBinder());
  let node: ShoalNode | undefined;
  let control: NodeControl | undefined;
  const pending: [Uint8Array, PeerAddress][] = [];
  const onDatagram = (bytes: Uint8Array, from: PeerAddress) =>
    control ? control.deliver(bytes, from) : pending.push([bytes, from]);
  // UDP and TCP share one port. With port 0 the OS picks the UDP port, which may be taken
  // for TCP: then try again with another.
  for (let attempt = 0;; attempt++) {
    const transport = await binder.bind({ host: bind.host, port: bind.port, onDatagram });
    try {
      const advertise = options.advertise
        ? parseAddress(options.advertise, transport.local.port)
        : { host: pickAdvertiseHost(transport.local.host), port: transport.local.port };
      const swim = new Swim({
        identity: {
          name,
          host: advertise.host,
          port: advertise.port,
          meta: options.meta,
          incarnation: startingIncarnation(Date.now(), persisted),
        },
        config,
        codec: options.codec ?? createMemberlistCodec({ compress }),
        now: () => performance.now(),
        rng: options.rng ?? { next: Math.random },
        streams: streamBinder !== undefined,
        vsn: options.vsn,
        localState: options.localState,
      });
      node = new ShoalNode({
        swim,
        transport,
        address: advertise,
        dataDir: options.dataDir,
        security,
        maxDecryptsInFlight,
        keyring,
        resolver: options.resolver ?? systemResolver,
        resolveTimeoutMs,
        onResolve: options.onResolve,
        onRemoteState: options.onRemoteState,
        streams: streamBinder && {
          binder: streamBinder,
          timeoutMs: config.tcpTimeout,
          security: securityOptions,
          compress,
        },
        connect: (c) => control = c,
      });
      try {
        await control!.listen(transport.local.host, transport.local.port);
      } catch (err) {
        const retry = err instanceof AddressInUseError && bind.port === 0 && attempt < 8;
        await node.close();
        node = undefined;
        control = undefined;
        if (retry) continue;
        throw err;
      }
      for (const [bytes, from] of pending.splice(0)) control!.deliver(bytes, from);
      control!.begin(
        seeds.filter((s) =>
          s.host === undefined ||
          formatAddress({ host: s.host, port: s.port }) !== formatAddress(advertise)
        ),
        options.keepAlive ?? true,
      );
      return node;
    } catch (err) {
      await transport.close();
      throw err;
    }
  }
}

/** The pieces {@linkcode createNode} assembles a node from. */
interface NodeParts {
  readonly swim: Swim;
  readonly transport: DatagramTransport;
  readonly address: PeerAddress;
  readonly dataDir?: string;
  readonly security: PacketSecurity;
  readonly maxDecryptsInFlight: number;
  readonly keyring?: Keyring;
  readonly resolver: SeedResolver;
  readonly resolveTimeoutMs: number;
  readonly onResolve?: (result: ResolveResult) => void;
  readonly onRemoteState?: (state: Uint8Array, join: boolean) => void;
  readonly streams?: {
    readonly binder: StreamBinder;
    readonly timeoutMs: number;
    readonly security: SecurityOptions;
    readonly compress: boolean;
  };
  /** Receives the node's inputs from its sockets and its start, which only createNode drives. */
  readonly connect: (control: NodeControl) => void;
}

/** What createNode drives on a node it built: datagrams in, the stream listener, the start. */
interface NodeControl {
  deliver(bytes: Uint8Array, from: PeerAddress): void;
  listen(host: string, port: number): Promise<void>;
  begin(seeds: readonly SeedAddress[], keepAlive: boolean): void;
}

function toKeyring(keys: NodeOptions["keys"]): Keyring | undefined {
  if (keys === undefined) return undefined;
  if (keys instanceof Keyring) return keys;
  if (keys.length === 0) return undefined;
  const bytes = keys.map((k) => typeof k === "string" ? Keyring.fromBase64([k]).primary : k);
  return new Keyring(bytes[0], bytes.slice(1));
}
