/**
 * Lifeguard and recovery experiments in the deterministic simulator (virtual time). The tests
 * assert their targets; `scripts/lifeguard_report.ts` runs them over many seeds for
 * `docs/lifeguard.md`.
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
import { Simulator } from "./simulator.ts";

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
