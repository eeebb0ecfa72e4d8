/**
 * Lifeguard and recovery experiments in the deterministic simulator (virtual time). The tests
 * assert their targets; `bench/lifeguard_report.ts` runs them over many seeds for
 * `docs/lifeguard.md`. {@linkcode broadcastsUnderChurn} (issue 12) is run by
 * `bench/broadcasts.ts` for `docs/performance.md`.
 *
 * @module
 */

import {
  type ConfigOverrides,
  LIFEGUARD_OFF,
  LIFEGUARD_ON,
  resolveConfig,
} from "../core/config.ts";
import type { Codec } from "../core/codec.ts";
import { seededRng } from "../core/rng.ts";
import { type SimNode, Simulator } from "./simulator.ts";

/** Result of {@linkcode slowMembers}. */
export interface SlowMembersResult {
  /** Dead declarations (by anyone) of members that were not slow. */
  readonly falseDead: number;
  /** Time from killing a healthy member until every healthy survivor holds it dead (ms). */
  readonly detectionMs: number;
}

/**
 * The Lifeguard paper's scenario: `slow` of `n` members receive everything `delay` ms late
 * (a stalled event loop, an overloaded host). Runs `duration` ms, counting dead declarations
 * of healthy members, then kills a healthy member and times its detection.
 */
export function slowMembers(options: {
  codec: Codec;
  seed: number;
  lifeguard: boolean;
  slow: number;
  delay: number;
  n?: number;
  duration?: number;
}): SlowMembersResult {
  const { codec, seed, lifeguard, slow, delay, n = 20, duration = 120_000 } = options;
  const config = resolveConfig("lan", { lifeguard: lifeguard ? LIFEGUARD_ON : LIFEGUARD_OFF });
  const sim = new Simulator({ seed, config, codec, faults: { minDelay: 1, maxDelay: 5 } });
  sim.addNodes(n);
  sim.runUntil(() => sim.converged(), 30_000);
  const slowNames = new Set<string>();
  for (let i = 0; i < slow; i++) {
    const name = `n${n - 1 - i}`;
    slowNames.add(name);
    sim.setSlow(name, delay);
  }
  const start = sim.clock.now();
  sim.runFor(duration);
  const falseDead =
    sim.events.filter((e) => e.at > start && e.type === "dead" && !slowNames.has(e.member))
      .length;
  const victim = "n1";
  sim.kill(victim);
  const killedAt = sim.clock.now();
  const healthy = () => sim.running().filter((x) => !slowNames.has(x.name));
  const detected = sim.runUntil(
    () => healthy().every((x) => x.swim.member(victim)?.state === "dead"),
    180_000,
    50,
  );
  return { falseDead, detectionMs: detected ? sim.clock.now() - killedAt : Infinity };
}

/** Result of {@linkcode lossyCluster}. */
export interface LossResult {
  /** Time from the kill until every survivor holds the member dead (ms), or Infinity. */
  readonly detectionMs: number;
  /** Dead declarations of live members within `window` ms of the loss starting. */
  readonly falseDead: number;
}

/** `n` members, then `loss` random datagram loss; one member is killed after 5 s. */
export function lossyCluster(options: {
  codec: Codec;
  seed: number;
  n?: number;
  loss?: number;
  window?: number;
  config?: ConfigOverrides;
  /** Members have simulated streams (TCP fallback probe, push/pull). Default false. */
  streams?: boolean;
}): LossResult {
  const { codec, seed, n = 100, loss = 0.5, window = 30_000, streams = false } = options;
  const config = resolveConfig("lan", options.config);
  const sim = new Simulator({
    seed,
    config,
    codec,
    streams,
    faults: { minDelay: 1, maxDelay: 5 },
  });
  sim.addNodes(n);
  sim.runUntil(() => sim.converged(), 30_000);
  // Measure from a steady state: the join's rumours spent, not the tail of the join.
  sim.runFor(10_000);
  sim.network.setFaults({ loss });
  const lossAt = sim.clock.now();
  sim.runFor(5_000);
  const victim = `n${Math.floor(n / 2)}`;
  sim.kill(victim);
  const killedAt = sim.clock.now();
  const detected = sim.runUntil(
    () => sim.running().every((x) => x.swim.member(victim)?.state === "dead"),
    60_000,
    50,
  );
  const detectionMs = detected ? sim.clock.now() - killedAt : Infinity;
  sim.runUntil(() => false, Math.max(0, lossAt + window - sim.clock.now()));
  const falseDead =
    sim.events.filter((e) =>
      e.at >= lossAt && e.at <= lossAt + window && e.type === "dead" && e.member !== victim
    ).length;
  return { detectionMs, falseDead };
}

/** Result of {@linkcode partitionHeal}. */
export interface PartitionResult {
  /** Every member held every member of the other side dead before the heal. */
  readonly sidesSplit: boolean;
  /** Time from the heal until all members share one view of all alive (ms), or Infinity. */
  readonly healMs: number;
}

/** `n` members split 50/50 for `duration` ms, then healed. */
export function partitionHeal(options: {
  codec: Codec;
  seed: number;
  n?: number;
  duration?: number;
  config?: ConfigOverrides;
}): PartitionResult {
  const { codec, seed, n = 40, duration = 60_000 } = options;
  const config = resolveConfig("lan", options.config);
  const sim = new Simulator({ seed, config, codec, faults: { minDelay: 1, maxDelay: 5 } });
  sim.addNodes(n);
  sim.runUntil(() => sim.converged(), 30_000);
  const a = sim.nodes.slice(0, n / 2), b = sim.nodes.slice(n / 2);
  sim.network.partition(a.map((x) => x.address.host), b.map((x) => x.address.host));
  sim.runFor(duration);
  const gone = (x: (typeof a)[number], other: typeof a) =>
    other.every((o) => {
      const state = x.swim.member(o.name)?.state;
      return state === undefined || state === "dead";
    });
  const sidesSplit = a.every((x) => gone(x, b)) && b.every((x) => gone(x, a));
  sim.network.heal();
  const healedAt = sim.clock.now();
  const merged = sim.runUntil(() => sim.converged(), 300_000, 100);
  return { sidesSplit, healMs: merged ? sim.clock.now() - healedAt : Infinity };
}

/** Result of {@linkcode massRestart}. */
export interface RestartResult {
  /** Time from the first restart until every member sees all alive (ms), or Infinity. */
  readonly recoveredMs: number;
  /** Members some member still held dead at the end. */
  readonly stuckDead: number;
  /** Every member ended with the same view (name, state and incarnation of everyone). */
  readonly consistent: boolean;
}

/** `n` members all restart (same names and addresses) within `spread` ms. */
export function massRestart(options: {
  codec: Codec;
  seed: number;
  n?: number;
  spread?: number;
  limit?: number;
  /** Restart at this incarnation instead of a time-seeded one (1 = memberlist's default). */
  incarnation?: number;
  /** How long each member stays down (ms). */
  downtime?: number;
  /** How many members restart (default all). */
  count?: number;
}): RestartResult {
  const { codec, seed, n = 30, spread = 3_000, limit = 120_000, incarnation } = options;
  const downtime = options.downtime ?? 10_000;
  const config = resolveConfig("lan");
  const sim = new Simulator({ seed, config, codec, faults: { minDelay: 1, maxDelay: 5 } });
  sim.addNodes(n);
  sim.runUntil(() => sim.converged(), 30_000);
  // Some history first: a few refutations raise incarnations above 1.
  sim.network.setFaults({ loss: 0.2 });
  sim.runFor(20_000);
  sim.network.setFaults({ loss: 0 });
  sim.runFor(5_000);
  const names = sim.nodes.map((x) => x.name).slice(0, options.count ?? n);
  const start = sim.clock.now();
  names.forEach((name, i) => {
    const at = Math.floor((i / names.length) * spread);
    sim.clock.schedule(at, () => sim.kill(name));
    sim.clock.schedule(at + downtime, () => sim.restart(name, { incarnation }));
  });
  sim.runFor(spread + downtime);
  const view = (x: (typeof sim.nodes)[number]) =>
    x.swim.members().map((m) => `${m.name}:${m.state}:${m.incarnation}`).sort().join(",");
  const settled = () => {
    if (!sim.converged()) return false;
    const first = view(sim.running()[0]);
    return sim.running().every((x) => view(x) === first);
  };
  const ok = sim.runUntil(settled, limit, 100);
  let stuckDead = 0;
  for (const x of sim.running()) {
    for (const m of x.swim.members()) if (m.state === "dead" && names.includes(m.name)) stuckDead++;
  }
  return { recoveredMs: ok ? sim.clock.now() - start : Infinity, stuckDead, consistent: ok };
}

/** Result of {@linkcode badLink}. */
export interface BadLinkResult {
  /** Events about the bad member, per observer, over `duration` (mean and most). */
  readonly eventsPerObserver: { readonly mean: number; readonly max: number };
  /** Event counts about the bad member by type, all observers together. */
  readonly byType: Readonly<Record<string, number>>;
  /** Dead declarations (by anyone) of healthy members over `duration`. */
  readonly falseDead: number;
  /**
   * Time from the link's repair until the last event every healthy member emitted about the
   * bad member says it is back (alive or join), ms; 0 if none had been told otherwise.
   */
  readonly toldBackMs: number;
  /** Time from killing a healthy member until every healthy survivor holds it dead (ms). */
  readonly detectionMs: number;
}

/**
 * One of `n` members loses `loss` of everything it receives (datagrams and stream segments),
 * from a converged start, for `duration` ms: how many events the others emit about it, and
 * whether healthy members stay alive. Then a healthy member is killed and its detection timed,
 * and the link is repaired: how long until every healthy member has told it is back.
 */
export function badLink(options: {
  codec: Codec;
  seed: number;
  n?: number;
  loss?: number;
  duration?: number;
  streams?: boolean;
  config?: ConfigOverrides;
}): BadLinkResult {
  const { codec, seed, n = 20, loss = 0.8, duration = 600_000, streams = true } = options;
  const config = resolveConfig("lan", options.config);
  const sim = new Simulator({ seed, config, codec, streams, faults: { minDelay: 1, maxDelay: 5 } });
  sim.addNodes(n);
  sim.runUntil(() => sim.converged(), 30_000);
  sim.runFor(10_000);
  const bad = `n${n - 1}`;
  sim.network.setReceiveLoss(sim.node(bad).address.host, loss);
  const start = sim.clock.now();
  sim.runFor(duration);
  const perObserver = new Map<string, number>();
  const byType: Record<string, number> = {};
  let falseDead = 0;
  for (const e of sim.events) {
    if (e.at < start) continue;
    if (e.member === bad && e.observer !== bad) {
      perObserver.set(e.observer, (perObserver.get(e.observer) ?? 0) + 1);
      byType[e.type] = (byType[e.type] ?? 0) + 1;
    } else if (e.type === "dead" && e.member !== bad && e.observer !== bad) falseDead++;
  }
  const counts = sim.nodes.filter((x) => x.name !== bad).map((x) => perObserver.get(x.name) ?? 0);
  const victim = "n1";
  sim.kill(victim);
  const killedAt = sim.clock.now();
  const healthy = () => sim.running().filter((x) => x.name !== bad);
  const detected = sim.runUntil(
    () => healthy().every((x) => x.swim.member(victim)?.state === "dead"),
    180_000,
    50,
  );
  const detectionMs = detected ? sim.clock.now() - killedAt : Infinity;
  sim.network.setReceiveLoss(sim.node(bad).address.host, 0);
  const repairedAt = sim.clock.now();
  const told = new Map<string, string>();
  for (const e of sim.events) {
    if (e.member === bad && e.observer !== bad) told.set(e.observer, e.type);
  }
  let seen = sim.events.length;
  const back = () => {
    for (; seen < sim.events.length; seen++) {
      const e = sim.events[seen];
      if (e.member === bad && e.observer !== bad) told.set(e.observer, e.type);
    }
    return healthy().every((x) => {
      const t = told.get(x.name);
      return x.name === bad || t === undefined || t === "alive" || t === "join";
    });
  };
  const toldBack = sim.runUntil(back, 900_000, 100);
  const toldBackMs = toldBack ? sim.clock.now() - repairedAt : Infinity;
  return {
    eventsPerObserver: {
      mean: counts.reduce((a, b) => a + b, 0) / counts.length,
      max: Math.max(...counts),
    },
    byType,
    falseDead,
    toldBackMs,
    detectionMs,
  };
}

/** Nearest-rank percentiles of some delays, ms (Infinity for what never arrived). */
export interface Quantiles {
  /** Median. */
  readonly p50: number;
  /** 95th percentile. */
  readonly p95: number;
  /** Largest. */
  readonly max: number;
}

/** Membership churn of {@linkcode broadcastsUnderChurn}, cluster-wide. */
export interface ChurnOptions {
  /** Metadata updates per second, each by a random member (default 8). */
  readonly metaPerSecond?: number;
  /** Size of the metadata, bytes (default 128). */
  readonly metaBytes?: number;
  /** Crash-restarts per minute, each of a random member, with new metadata (default 12). */
  readonly restartsPerMinute?: number;
  /** How long a crashed member stays down before it restarts, ms (default 10,000). */
  readonly downtime?: number;
}

/** Options of {@linkcode broadcastsUnderChurn}. */
export interface BroadcastChurnOptions {
  /** Wire format. */
  readonly codec: Codec;
  /** Seed of the run. */
  readonly seed: number;
  /** Members (default 1,000). */
  readonly n?: number;
  /** Membership churn, or `false` for none (default: {@linkcode ChurnOptions}' defaults). */
  readonly churn?: ChurnOptions | false;
  /** User broadcasts per second, cluster-wide (default 2). */
  readonly broadcastsPerSecond?: number;
  /** Size of each user broadcast, bytes, at least 4 (default 64). */
  readonly payloadBytes?: number;
  /** Members that take turns issuing them (default 4; they never restart). */
  readonly originators?: number;
  /** How long broadcasts are issued, ms (default 30,000). */
  readonly duration?: number;
  /** How long the run goes on after the last broadcast, churn stopped, ms (default 20,000). */
  readonly drain?: number;
  /** Overrides of the LAN settings. */
  readonly config?: ConfigOverrides;
}

/** Result of {@linkcode broadcastsUnderChurn}. */
export interface BroadcastChurnResult {
  /** User broadcasts issued. */
  readonly broadcasts: number;
  /** Share of them that every member running from its issue to the end delivered. */
  readonly reachedAll: number;
  /** From issue to the first delivery by another member. */
  readonly firstMs: Quantiles;
  /** From issue until every member running from its issue to the end had delivered it. */
  readonly allMs: Quantiles;
  /** Membership updates during the broadcasts: metadata updates and restarts. */
  readonly updates: number;
  /** Share of them that every member running from the update to the end had heard of. */
  readonly updatesReachedAll: number;
  /** From an update until every member running from then to the end had heard of it. */
  readonly updateAllMs: Quantiles;
  /** Gossip datagrams (those led by a rumour) sent while the broadcasts ran. */
  readonly packets: {
    /** Per member per second. */
    readonly perMemberPerSecond: number;
    /** Mean share of the datagram budget used. */
    readonly meanFill: number;
    /** Share of them at least 90 % full. */
    readonly fullShare: number;
    /** Share of their bytes that were user broadcasts. */
    readonly userShare: number;
  };
  /** Membership rumours queued per running member, sampled each second (mean, most). */
  readonly queueDepth: { readonly mean: number; readonly max: number };
}

// memberlist message types leading a gossip datagram: suspect, alive, dead, user.
const RUMOUR_TYPES = new Set([3, 4, 5, 8]);

/** Counts how full the gossip datagrams are, by wrapping a codec's packer. */
class FillMeter {
  on = false;
  packets = 0;
  fill = 0;
  full = 0;
  bytes = 0;
  userBytes = 0;

  wrap(codec: Codec): Codec {
    return {
      encode: (m) => codec.encode(m),
      decodePacket: (b) => codec.decodePacket(b),
      packer: (budget, options) => {
        const p = codec.packer(budget, options);
        let first = -1, user = 0, used = 0;
        return {
          get count() {
            return p.count;
          },
          get free() {
            return p.free;
          },
          room: (reserve) => p.room(reserve),
          add: (part) => {
            const ok = p.add(part);
            if (ok) {
              if (first < 0) first = part[0];
              if (part[0] === 8) user += part.length;
              used += part.length;
            }
            return ok;
          },
          finish: () => {
            if (this.on && RUMOUR_TYPES.has(first)) {
              const fill = 1 - p.free / budget;
              this.packets++;
              this.fill += fill;
              if (fill >= 0.9) this.full++;
              this.bytes += used;
              this.userBytes += user;
            }
            return p.finish();
          },
        };
      },
    };
  }
}

function quantiles(xs: number[]): Quantiles {
  if (xs.length === 0) return { p50: NaN, p95: NaN, max: NaN };
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
  return { p50: at(0.5), p95: at(0.95), max: s[s.length - 1] };
}

/**
 * Issue 12's broadcast fairness (memberlist's issue 299): `n` members from a converged start,
 * LAN timing, streams on. Membership churn (metadata updates and crash-restarts, `churn`;
 * `false` for none) runs from 5 s; from 15 s, for `duration` ms, `originators` members take
 * turns issuing user broadcasts of `payloadBytes`, `broadcastsPerSecond` in all. Every member
 * relays a broadcast the first time it delivers it, as serf relays user events (shoal, as
 * memberlist, transmits a broadcast only from the member that queued it). After `drain` ms
 * more (churn stopped) the delays are read: user broadcasts, membership updates, and how full
 * the gossip datagrams were. Deterministic for `seed`.
 */
export function broadcastsUnderChurn(options: BroadcastChurnOptions): BroadcastChurnResult {
  const { seed, n = 1000, broadcastsPerSecond = 2, payloadBytes = 64 } = options;
  const { originators = 4, duration = 30_000, drain = 20_000 } = options;
  const churn = options.churn === false ? undefined : options.churn ?? {};
  const config = resolveConfig("lan", options.config);
  const meter = new FillMeter();
  /** Per member life: broadcast id → when it delivered it. */
  const delivered = new Map<SimNode, Map<number, number>>();
  const onUserMessage = (node: SimNode, payload: Uint8Array) => {
    node.userMessages.length = 0; // a member receives each broadcast ~16 times: keep none
    let seen = delivered.get(node);
    if (!seen) delivered.set(node, seen = new Map());
    const id = new DataView(payload.buffer, payload.byteOffset).getUint32(0);
    if (seen.has(id)) return;
    seen.set(id, sim.clock.now());
    sim.broadcast(node.name, payload);
  };
  const sim: Simulator = new Simulator({
    seed,
    config,
    codec: meter.wrap(options.codec),
    streams: true,
    faults: { minDelay: 1, maxDelay: 5 },
    onUserMessage,
  });
  sim.addConverged(n);
  const rng = seededRng(seed * 7_777 + 1);
  const pick = (avoid: ReadonlySet<string>) => {
    for (;;) {
      const name = `n${Math.floor(rng.next() * n)}`;
      if (!avoid.has(name) && sim.node(name).running) return name;
    }
  };
  const churnAt = 5_000, sendAt = 15_000;
  const sendEnd = sendAt + duration, end = sendEnd + drain;
  const senders = Array.from(
    { length: originators },
    (_, i) => `n${1 + Math.floor(i * n / originators)}`,
  );
  const steady = new Set(["n0", ...senders]); // the seed and the originators never restart

  // Membership updates: member → [incarnation, when] to hear of; tracked through events.
  interface Update {
    readonly member: string;
    readonly incarnation: number;
    readonly at: number;
    readonly targets: readonly SimNode[];
    readonly heard: Map<string, number>;
  }
  const updates: Update[] = [];
  const updatesOf = new Map<string, Update[]>();
  const track = (member: string) => {
    const now = sim.clock.now();
    if (now < sendAt || now >= sendEnd) return;
    const incarnation = sim.node(member).swim.member(member)!.incarnation;
    const targets = sim.running().filter((x) => x.name !== member);
    const u = { member, incarnation, at: now, targets, heard: new Map() };
    updates.push(u);
    let list = updatesOf.get(member);
    if (!list) updatesOf.set(member, list = []);
    list.push(u);
  };
  let boot = 0;
  const metaOf = (bytes: number) => {
    const meta = new Uint8Array(bytes);
    new DataView(meta.buffer).setUint32(0, ++boot);
    return meta;
  };
  if (churn) {
    const metaEvery = 1000 / (churn.metaPerSecond ?? 8);
    const restartEvery = 60_000 / (churn.restartsPerMinute ?? 12);
    const metaBytes = churn.metaBytes ?? 128, downtime = churn.downtime ?? 10_000;
    const down = new Set<string>();
    for (let t = churnAt; t < sendEnd; t += metaEvery) {
      sim.clock.schedule(t - sim.clock.now(), () => {
        const name = pick(down);
        sim.updateMeta(name, metaOf(metaBytes));
        track(name);
      });
    }
    for (let t = churnAt; t < sendEnd; t += restartEvery) {
      sim.clock.schedule(t - sim.clock.now(), () => {
        const name = pick(new Set([...steady, ...down]));
        down.add(name);
        sim.kill(name);
        sim.clock.schedule(downtime, () => {
          down.delete(name);
          sim.restart(name, { meta: metaOf(metaBytes) });
          track(name);
        });
      });
    }
  }

  // User broadcasts: id → when, by whom, and who was running then.
  interface Sent {
    readonly at: number;
    readonly from: string;
    readonly targets: readonly SimNode[];
  }
  const sent: Sent[] = [];
  const every = 1000 / broadcastsPerSecond;
  for (let t = sendAt; every < Infinity && t < sendEnd; t += every) {
    sim.clock.schedule(t - sim.clock.now(), () => {
      const id = sent.length;
      const from = senders[id % senders.length];
      const payload = new Uint8Array(payloadBytes);
      new DataView(payload.buffer).setUint32(0, id);
      sent.push({
        at: sim.clock.now(),
        from,
        targets: sim.running().filter((x) => x.name !== from),
      });
      sim.broadcast(from, payload);
    });
  }

  // Every second: read the new events (then drop them), sample the queues.
  let depthSum = 0, depthSamples = 0, depthMax = 0;
  const readEvents = () => {
    for (const e of sim.events) {
      if (e.type === "suspect" || e.type === "dead" || e.type === "leave") continue;
      for (const u of updatesOf.get(e.member) ?? []) {
        if (e.incarnation >= u.incarnation && !u.heard.has(e.observer)) {
          u.heard.set(e.observer, e.at);
        }
      }
    }
    sim.events.length = 0;
  };
  for (let t = 1000; t <= end; t += 1000) {
    sim.clock.schedule(t - sim.clock.now(), () => {
      readEvents();
      if (sim.clock.now() <= sendAt || sim.clock.now() > sendEnd) return;
      for (const x of sim.running()) {
        depthSum += x.swim.queueDepth;
        depthMax = Math.max(depthMax, x.swim.queueDepth);
        depthSamples++;
      }
    });
  }
  sim.clock.schedule(sendAt, () => meter.on = true);
  sim.clock.schedule(sendEnd, () => meter.on = false);
  sim.runFor(end);
  readEvents();

  const alive = (x: SimNode) => x.running && sim.node(x.name) === x;
  const first: number[] = [], all: number[] = [];
  sent.forEach((s, id) => {
    let firstAt = Infinity, lastAt = -Infinity;
    for (const x of s.targets) {
      const at = delivered.get(x)?.get(id);
      if (at !== undefined) firstAt = Math.min(firstAt, at);
      if (alive(x)) lastAt = Math.max(lastAt, at ?? Infinity);
    }
    first.push(firstAt - s.at);
    all.push(lastAt - s.at);
  });
  const updateAll = updates.map((u) => {
    let lastAt = -Infinity;
    for (const x of u.targets) {
      if (alive(x)) lastAt = Math.max(lastAt, u.heard.get(x.name) ?? Infinity);
    }
    return lastAt - u.at;
  });
  const seconds = duration / 1000;
  return {
    broadcasts: sent.length,
    reachedAll: all.filter(Number.isFinite).length / Math.max(1, sent.length),
    firstMs: quantiles(first),
    allMs: quantiles(all),
    updates: updates.length,
    updatesReachedAll: updateAll.filter(Number.isFinite).length / Math.max(1, updates.length),
    updateAllMs: quantiles(updateAll),
    packets: {
      perMemberPerSecond: meter.packets / n / seconds,
      meanFill: meter.fill / Math.max(1, meter.packets),
      fullShare: meter.full / Math.max(1, meter.packets),
      userShare: meter.userBytes / Math.max(1, meter.bytes),
    },
    queueDepth: { mean: depthSum / Math.max(1, depthSamples), max: depthMax },
  };
}
