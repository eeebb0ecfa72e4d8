/**
 * The deterministic simulator: many {@linkcode Swim} cores on a {@linkcode MemoryNetwork}
 * under a {@linkcode VirtualScheduler}. Effects are applied exactly as a real host would,
 * but in virtual time, so hundreds of members run for minutes in seconds, and the same seed
 * replays the same run event for event.
 *
 * @module
 */

import { ipToBytes, type PeerAddress, type SeedAddress } from "../core/address.ts";
import type { Codec } from "../core/codec.ts";
import { DEFAULT_VSN, type SwimConfig } from "../core/config.ts";
import type {
  Effect,
  MembershipEventType,
  ResolvedAddress,
  ResolveResult,
} from "../core/effects.ts";
import type { Member } from "../core/member.ts";
import type { NodeState, PushPull } from "../core/messages.ts";
import { SharedRecords } from "../core/membership.ts";
import { seededRng } from "../core/rng.ts";
import { Swim } from "../core/swim.ts";
import { type MemberView, ViewCoalescer, type ViewOptions } from "../core/views.ts";
import { MemoryNetwork, type NetworkFaults } from "../transport/memory.ts";
import type { DatagramTransport, TransportStats } from "../transport/types.ts";
import { VirtualScheduler } from "./scheduler.ts";

/** Options of a {@linkcode Simulator}. */
export interface SimulatorOptions {
  /** Seed for the network and every node's randomness. */
  readonly seed: number;
  /** Protocol settings of every node. */
  readonly config: SwimConfig;
  /** Wire format. */
  readonly codec: Codec;
  /** Network faults. */
  readonly faults?: NetworkFaults;
  /**
   * Give the nodes streams (as memberlist's TCP): push/pull sync and the fallback probe,
   * with TCP-like latency under loss (see `MemoryNetwork.streamLatency`). Default false.
   */
  readonly streams?: boolean;
  /**
   * The simulated DNS: seed names → their addresses, read at each `resolve` effect (so a test
   * may change it between attempts); answered 1 ms later. Default: every name is unknown.
   */
  readonly dns?: ReadonlyMap<string, readonly ResolvedAddress[]>;
  /**
   * Called with each user message a node receives, once it is added to the node's
   * `userMessages`. It may call {@linkcode Simulator.broadcast} (to relay the message, as serf
   * relays user events).
   */
  readonly onUserMessage?: (node: SimNode, payload: Uint8Array) => void;
}

/** One line of the simulation's event log. */
export interface SimEvent {
  /** Virtual time in ms. */
  readonly at: number;
  /** The node that observed it. */
  readonly observer: string;
  /** What it observed. */
  readonly type: MembershipEventType;
  /** About whom. */
  readonly member: string;
  /** The member's incarnation in the event. */
  readonly incarnation: number;
}

/** A simulated member. */
export interface SimNode {
  /** Name. */
  readonly name: string;
  /** Address on the simulated network. */
  readonly address: PeerAddress;
  /** The state machine. */
  readonly swim: Swim;
  /** False once crashed. */
  running: boolean;
  /** Settled announcements seen ("leave", "meta"). */
  readonly settled: string[];
  /** Seeds it joins through (addresses, or names resolved through `dns`). */
  readonly seeds: SeedAddress[];
  /** User messages it received. */
  readonly userMessages: Uint8Array[];
  /** Its metadata. */
  readonly meta?: Uint8Array;
}

/**
 * Runs a cluster in virtual time.
 *
 * @example
 * ```ts
 * import { Simulator } from "@shoal/swim/sim";
 * import { memberlistCodec } from "@shoal/swim";
 * import { lanConfig } from "@shoal/swim";
 * const sim = new Simulator({ seed: 7, config: lanConfig, codec: memberlistCodec });
 * sim.addNodes(10);
 * sim.runFor(10_000);
 * console.log(sim.converged()); // true
 * ```
 */
export class Simulator {
  /** The virtual clock. */
  readonly clock: VirtualScheduler = new VirtualScheduler();
  /** The network (change faults, partition, heal). */
  readonly network: MemoryNetwork;
  /** Every membership event observed by any node, in order. */
  readonly events: SimEvent[] = [];
  readonly #nodes = new Map<string, SimNode>();
  readonly #sockets = new Map<string, DatagramTransport>();
  readonly #opts: SimulatorOptions;
  #restarts = 0;
  /** `watchViews` subscriptions: each running node's coalescer, per subscription. */
  readonly #watchers = new Set<ViewWatcher>();
  /** Every node's records, shared where their views agree (memory: n plus disagreements). */
  readonly #records = new SharedRecords();

  /** Create an empty simulation. */
  constructor(options: SimulatorOptions) {
    this.#opts = options;
    this.network = new MemoryNetwork({
      seed: options.seed,
      scheduler: this.clock,
      ...options.faults,
    });
  }

  /** All nodes ever added, crashed ones included. */
  get nodes(): SimNode[] {
    return [...this.#nodes.values()];
  }

  /** The node called `name`. */
  node(name: string): SimNode {
    const n = this.#nodes.get(name);
    if (!n) throw new Error(`no simulated node ${name}`);
    return n;
  }

  /**
   * Add and start a node. It joins through `seeds` (default: the first node added).
   */
  addNode(name: string, options: { seeds?: SeedAddress[]; meta?: Uint8Array } = {}): SimNode {
    const index = this.#nodes.size;
    const address = addressOf(index);
    const first = this.#nodes.values().next().value;
    const seeds = options.seeds ?? (first ? [first.address] : []);
    return this.#boot(name, address, index, seeds, options.meta);
  }

  /**
   * Crash `name` (if running) and start it again at the same address with the same name, a
   * fresh state and a time-seeded incarnation (or `incarnation`, e.g. 1 to play a node without
   * a clock or data directory), joining through its original seeds, with its metadata or
   * `meta`.
   */
  restart(name: string, options: { incarnation?: number; meta?: Uint8Array } = {}): SimNode {
    const old = this.node(name);
    if (old.running) this.kill(name);
    const index = [...this.#nodes.keys()].indexOf(name);
    this.#restarts++;
    const seed = index + this.#restarts * 1_000_000;
    const meta = options.meta ?? old.meta;
    return this.#boot(name, old.address, seed, old.seeds, meta, options.incarnation);
  }

  /**
   * Add `count` nodes named `prefix0…` that start as a converged cluster: every node already
   * holds every other as alive (no join traffic, no join events), as after a completed join.
   * Only into an empty simulator. Their seed (for {@linkcode Simulator.restart}) is the first.
   */
  addConverged(count: number, prefix = "n"): SimNode[] {
    if (this.#nodes.size > 0) throw new Error("addConverged needs an empty simulator");
    const incarnation = Math.floor(this.clock.now() / 1000) + 1;
    const known: NodeState[] = [];
    for (let index = 0; index < count; index++) {
      const address = addressOf(index);
      known.push({
        name: `${prefix}${index}`,
        addr: ipToBytes(address.host),
        port: address.port,
        meta: null,
        incarnation,
        state: 0,
        vsn: DEFAULT_VSN,
      });
    }
    const out: SimNode[] = [];
    for (let index = 0; index < count; index++) {
      const seeds = index === 0 ? [] : [addressOf(0)];
      out.push(
        this.#boot(
          known[index].name,
          addressOf(index),
          index,
          seeds,
          undefined,
          incarnation,
          known,
        ),
      );
    }
    return out;
  }

  #boot(
    name: string,
    address: PeerAddress,
    index: number,
    seeds: SeedAddress[],
    meta?: Uint8Array,
    incarnation?: number,
    knownMembers?: readonly NodeState[],
  ): SimNode {
    const swim = new Swim({
      // Time-seeded incarnation, as a real node: a restart outranks its previous life.
      identity: {
        name,
        host: address.host,
        port: address.port,
        meta,
        incarnation: incarnation ?? Math.floor(this.clock.now() / 1000) + 1,
      },
      config: this.#opts.config,
      codec: this.#opts.codec,
      now: () => this.clock.now(),
      rng: seededRng(this.#opts.seed * 1_000_003 + index * 7919),
      streams: this.#opts.streams ?? false,
      knownMembers,
      sharedRecords: this.#records,
    });
    const node: SimNode = {
      name,
      address,
      swim,
      running: true,
      settled: [],
      seeds,
      meta,
      userMessages: [],
    };
    this.#nodes.set(name, node);
    const socket = this.network.attach({
      host: address.host,
      port: address.port,
      onDatagram: (bytes, from) => {
        if (node.running) this.#apply(node, swim.handlePacket(bytes, from));
      },
    });
    this.#sockets.set(name, socket);
    for (const w of this.#watchers) this.#watch(w, node);
    this.#apply(node, swim.start());
    if (knownMembers) return node; // already converged: no announce
    const others = seeds.filter((a) => a.host !== address.host || a.port !== address.port);
    this.#apply(node, swim.join(others));
    return node;
  }

  /** Datagram and byte counters of `name`'s socket (all its lives, if restarted: the current one). */
  transportStats(name: string): TransportStats {
    const socket = this.#sockets.get(name);
    if (!socket) throw new Error(`no simulated node ${name}`);
    return socket.stats;
  }

  /** Make `name` slow: everything it receives arrives `ms` later (0 restores it). */
  setSlow(name: string, ms: number): void {
    this.network.setReceiveDelay(this.node(name).address.host, ms);
  }

  /** Add `count` nodes named `prefix0…`, all seeded with the first node. */
  addNodes(count: number, prefix = "n"): SimNode[] {
    const out: SimNode[] = [];
    for (let i = 0; i < count; i++) out.push(this.addNode(`${prefix}${this.#nodes.size}`));
    return out;
  }

  /** Advance virtual time by `ms`. */
  runFor(ms: number): void {
    this.clock.runFor(ms);
  }

  /** Advance until `predicate` holds (checked every `step` ms) or `limit` ms pass. */
  runUntil(predicate: () => boolean, limit: number, step = 100): boolean {
    const end = this.clock.now() + limit;
    while (this.clock.now() < end) {
      if (predicate()) return true;
      this.clock.runFor(step);
    }
    return predicate();
  }

  /**
   * Follow every node's settled view (the rule of `ShoalNode.views()`, see
   * {@linkcode ViewCoalescer}) in virtual time: `onView` gets each view of each running node,
   * this one's and those added later (a restarted node starts a new subscription). Watching
   * changes nothing the nodes do. Returns a function that stops it.
   *
   * @example
   * ```ts
   * import { Simulator } from "@shoal/swim/sim";
   * import { lanConfig, memberlistCodec } from "@shoal/swim";
   * const sim = new Simulator({ seed: 1, config: lanConfig, codec: memberlistCodec });
   * const views = new Map<string, number>();
   * const stop = sim.watchViews({ settle: 1000, maxDelay: 5000 }, (node) => {
   *   views.set(node, (views.get(node) ?? 0) + 1);
   * });
   * sim.addNodes(20);
   * sim.runFor(20_000);
   * stop();
   * console.log(views.get("n0")); // a few, not 20
   * ```
   */
  watchViews(options: ViewOptions, onView: (node: string, view: MemberView) => void): () => void {
    const watcher: ViewWatcher = { options, onView, views: new Map() };
    this.#watchers.add(watcher);
    for (const node of this.running()) this.#watch(watcher, node);
    return () => {
      this.#watchers.delete(watcher);
      watcher.views.clear();
    };
  }

  #watch(watcher: ViewWatcher, node: SimNode): void {
    const views = new ViewCoalescer(node.swim.members(), watcher.options, this.clock.now());
    watcher.views.set(node, views);
    this.#viewStep(watcher, node, views, views.poll(this.clock.now()));
  }

  /** Arm the timer a coalescer asked for; take a view as soon as one is due. */
  #viewStep(
    watcher: ViewWatcher,
    node: SimNode,
    views: ViewCoalescer,
    at: number | undefined,
  ): void {
    if (at !== undefined) {
      this.clock.schedule(at - this.clock.now(), () => {
        if (node.running && watcher.views.get(node) === views) {
          this.#viewStep(watcher, node, views, views.poll(this.clock.now()));
        }
      });
    }
    if (views.due) {
      const view = views.take(this.clock.now());
      if (view) watcher.onView(node.name, view);
    }
  }

  /** Crash a node: it stops sending, receiving and running timers, without a word. */
  kill(name: string): void {
    const node = this.node(name);
    node.running = false;
    for (const w of this.#watchers) w.views.delete(node);
    void this.#sockets.get(name)?.close();
  }

  /** Leave gracefully. */
  leave(name: string): void {
    const node = this.node(name);
    this.#apply(node, node.swim.leave());
  }

  /** `name` gossips `payload` to the cluster (see `Swim.broadcast`). */
  broadcast(name: string, payload: Uint8Array): void {
    const node = this.node(name);
    this.#apply(node, node.swim.broadcast(payload));
  }

  /** Update a node's metadata. */
  updateMeta(name: string, meta: Uint8Array): void {
    const node = this.node(name);
    this.#apply(node, node.swim.updateMeta(meta));
  }

  /** What `name` believes about `about`. */
  stateOf(name: string, about: string): Member | undefined {
    return this.node(name).swim.member(about);
  }

  /** Running nodes. */
  running(): SimNode[] {
    return this.nodes.filter((n) => n.running);
  }

  /**
   * True when every running, non-leaving node sees every other running, non-leaving node as
   * alive (and knows no member alive that is not running).
   */
  converged(): boolean {
    const live = this.running().filter((n) => !n.swim.leaving);
    const names = new Set(live.map((n) => n.name));
    for (const n of live) {
      let alive = 0;
      for (const m of n.swim.members()) {
        if (m.state === "alive" || m.state === "suspect") {
          if (!names.has(m.name) || m.state === "suspect") return false;
          alive++;
        }
      }
      if (alive !== names.size) return false;
    }
    return true;
  }

  /** Events observed about `member` of `type`. */
  eventsAbout(member: string, type?: MembershipEventType): SimEvent[] {
    return this.events.filter((e) => e.member === member && (!type || e.type === type));
  }

  /** The running node bound at `address`, if any. */
  #at(address: PeerAddress): SimNode | undefined {
    for (const n of this.#nodes.values()) {
      if (n.running && n.address.host === address.host && n.address.port === address.port) {
        return n;
      }
    }
    return undefined;
  }

  /**
   * A push/pull over a simulated stream: the request reaches the acceptor after half the
   * latency, its reply the dialer after the other half.
   */
  #pushPull(node: SimNode, to: PeerAddress, request: PushPull): void {
    const latency = this.network.streamLatency(node.address.host, to.host);
    if (latency === null) return;
    this.clock.schedule(latency / 2, () => {
      const peer = this.#at(to);
      if (!peer) return;
      const { reply, effects } = peer.swim.handleStreamRequest(request, node.address);
      this.#apply(peer, effects);
      if (reply?.type !== "pushPull") return;
      this.clock.schedule(latency / 2, () => {
        if (node.running) this.#apply(node, node.swim.handlePushPullReply(reply));
      });
    });
  }

  #apply(node: SimNode, effects: Effect[]): void {
    for (const e of effects) {
      switch (e.type) {
        case "send":
          if (node.running) this.#sockets.get(node.name)?.send(e.to, e.bytes);
          break;
        case "schedule":
          this.clock.schedule(e.delay, () => {
            if (node.running) this.#apply(node, node.swim.handleTimer(e.timer));
          });
          break;
        case "event":
          for (const w of this.#watchers) {
            const views = w.views.get(node);
            if (views) {
              this.#viewStep(w, node, views, views.observe(e.event.member, this.clock.now()));
            }
          }
          this.events.push({
            at: this.clock.now(),
            observer: node.name,
            type: e.event.type,
            member: e.event.member.name,
            incarnation: e.event.member.incarnation,
          });
          break;
        case "settled":
          node.settled.push(e.what);
          break;
        case "pushPull":
          this.#pushPull(node, e.to, e.request);
          break;
        case "streamPing": {
          const seqNo = e.ping.seqNo;
          const peer = this.#at(e.to);
          const latency = this.network.streamLatency(node.address.host, e.to.host);
          let ok = false;
          if (peer && latency !== null && latency <= e.timeout) {
            const { reply, effects } = peer.swim.handleStreamRequest(e.ping, node.address);
            this.#apply(peer, effects);
            ok = reply?.type === "ack" && reply.seqNo === seqNo;
          }
          this.clock.schedule(ok ? latency! : e.timeout, () => {
            if (node.running) this.#apply(node, node.swim.handleStreamPingResult(seqNo, ok));
          });
          break;
        }
        case "userStream": {
          const peer = this.#at(e.to);
          const latency = this.network.streamLatency(node.address.host, e.to.host, 3);
          if (peer && latency !== null) {
            const request = { type: "user", payload: e.payload } as const;
            this.clock.schedule(latency, () => {
              if (peer.running) {
                this.#apply(peer, peer.swim.handleStreamRequest(request, node.address).effects);
              }
            });
          }
          break;
        }
        case "user":
          node.userMessages.push(e.payload);
          this.#opts.onUserMessage?.(node, e.payload);
          break;
        case "resolve": {
          const results: ResolveResult[] = e.names.map((name) => {
            const addresses = this.#opts.dns?.get(name);
            return addresses ? { name, addresses } : { name, error: `unknown name ${name}` };
          });
          this.clock.schedule(1, () => {
            if (node.running) this.#apply(node, node.swim.handleResolved(e.token, results));
          });
          break;
        }
      }
    }
  }
}

/** One `watchViews` subscription. */
interface ViewWatcher {
  readonly options: ViewOptions;
  readonly onView: (node: string, view: MemberView) => void;
  readonly views: Map<SimNode, ViewCoalescer>;
}

/** The simulated address of the `index`-th node added. */
function addressOf(index: number): PeerAddress {
  return { host: `10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}`, port: 7946 };
}
