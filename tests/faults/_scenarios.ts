/**
 * The fault scenarios on real sockets, each in a network namespace of its own: random loss,
 * a partition that heals, a frozen member. Each returns what it measured; the test
 * (`netns.test.ts`) asserts on it and the soak bench (`bench/soak.ts`) runs longer versions.
 * Every scenario removes its namespace and stops its processes whatever happens.
 *
 * @module
 */
import { allAlive, Host, Netns, type SeenEvent, sleep, views, waitUntil } from "./_netns.ts";
import type { HostSpec, NodeSpec } from "./_member.ts";

type Log = (line: string) => void;

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function pad(i: number): string {
  return String(i).padStart(2, "0");
}

function spec(nodes: NodeSpec[], lifeMs: number, extra: Partial<HostSpec> = {}): HostSpec {
  return { nodes, lifeMs, preset: "lan", ...extra };
}

/** Wait until every observer sees every name alive; returns when, or throws. */
async function converge(hosts: Host[], names: string[], boundMs: number): Promise<number> {
  await waitUntil(async () => allAlive(await views(hosts), names, names), boundMs, "one view", 250);
  return Date.now();
}

/** A readable list of who does not see whom alive, for failure messages. */
function missing(v: Record<string, Record<string, string>>, names: string[]): string[] {
  const out: string[] = [];
  for (const o of names) {
    const bad = names.filter((n) => !(v[o]?.[n] ?? "").startsWith("alive/"));
    if (bad.length) out.push(`${o} ↛ ${bad.map((n) => `${n}(${v[o]?.[n] ?? "?"})`).join(" ")}`);
  }
  return out;
}

/** What {@linkcode killAndDetect} measured. */
interface Detection {
  readonly tKill: number;
  /** From the kill until the last survivor declared the member dead, if all did in bound. */
  readonly allDeadMs: number | undefined;
  readonly undetectedBy: string[];
}

/**
 * SIGKILL `victim` (no leave), then wait up to `boundMs` until every one of `survivors`
 * (members of `observers`) has declared `name` dead.
 */
async function killAndDetect(
  victim: Host,
  name: string,
  observers: Host,
  survivors: string[],
  boundMs: number,
): Promise<Detection> {
  const tKill = Date.now();
  victim.signal("SIGKILL");
  const deadAt = (s: string) =>
    observers.events.find((e) =>
      e.observer === s && e.member === name && e.type === "dead" && e.t >= tKill
    )?.t;
  await waitUntil(
    () => survivors.every((s) => deadAt(s) !== undefined),
    boundMs,
    "every survivor to declare the killed member dead",
    50,
  ).catch(() => {});
  const times = survivors.map(deadAt);
  return {
    tKill,
    allDeadMs: times.every((t) => t !== undefined)
      ? Math.max(...(times as number[])) - tKill
      : undefined,
    undetectedBy: survivors.filter((s) => deadAt(s) === undefined),
  };
}

// ---------------------------------------------------------------------------------------------

/** Options of {@linkcode lossScenario}. */
export interface LossOptions {
  readonly members: number;
  /** Percentage of UDP and TCP packets dropped (at the namespace's input hook). */
  readonly lossPct: number;
  /** How long the loss lasts before the kill. */
  readonly lossMs: number;
  /** Longest wait for every survivor to declare the killed member dead. */
  readonly detectBoundMs: number;
  readonly tag?: string;
  readonly log?: Log;
}

/** What {@linkcode lossScenario} measured. */
export interface LossResult {
  readonly members: number;
  readonly lossPct: number;
  readonly lossMs: number;
  /** Share of UDP/TCP packets the rule actually dropped, over the whole run under loss. */
  readonly measuredLossPct: number;
  readonly packets: number;
  readonly convergeMs: number;
  /** `dead` events about members that were running (any observer, any time). */
  readonly falseDeaths: SeenEvent[];
  /** `suspect` events about members that were running. */
  readonly falseSuspicions: number;
  /** Members suspected at least once while running. */
  readonly suspectedMembers: number;
  /** Time from the kill to: the first suspicion, the first death, death at every survivor. */
  readonly firstSuspectMs: number | undefined;
  readonly firstDeadMs: number | undefined;
  readonly allDeadMs: number | undefined;
  /** Survivors that had not declared the killed member dead within the bound. */
  readonly undetectedBy: string[];
  readonly hostErrors: string[];
}

/**
 * `members` members (LAN timing) on one loopback; after they converge, `lossPct` % of every
 * UDP datagram and TCP segment is dropped for `lossMs`; then one member's process is killed
 * (SIGKILL: no leave) and the survivors must all declare it dead, loss still on.
 */
export async function lossScenario(o: LossOptions): Promise<LossResult> {
  const log = o.log ?? (() => {});
  const ns = Netns.create(o.tag ?? "loss");
  const hosts: Host[] = [];
  try {
    const names = range(o.members).map((i) => `m${pad(i)}`);
    const node = (i: number): NodeSpec => ({
      name: names[i],
      bind: `127.0.0.1:${7946 + i}`,
      seeds: i ? ["127.0.0.1:7946"] : [],
    });
    const lifeMs = o.lossMs + o.detectBoundMs + 120_000;
    const t0 = Date.now();
    const main = new Host(ns, spec(range(o.members - 1).map(node), lifeMs));
    hosts.push(main);
    await main.started(o.members - 1, 60_000);
    const victim = new Host(ns, spec([node(o.members - 1)], lifeMs));
    hosts.push(victim);
    await victim.started(1, 60_000);
    const converged = await converge(hosts, names, 60_000);
    log(`loss: ${o.members} members converged in ${converged - t0} ms; ${o.lossPct} % loss on`);

    ns.count("meta l4proto { udp, tcp }");
    ns.drop(`meta l4proto { udp, tcp } numgen random mod 100 < ${o.lossPct}`);
    const lossEnd = Date.now() + o.lossMs;
    while (Date.now() < lossEnd) {
      await sleep(Math.min(30_000, lossEnd - Date.now()));
      const c = ns.counters();
      const sus = main.events.filter((e) => e.type === "suspect").length;
      const dead = main.events.filter((e) => e.type === "dead").length;
      log(`loss: ${c.dropped}/${c.counted} dropped, ${sus} suspect and ${dead} dead events so far`);
    }

    const victimName = names[o.members - 1];
    const survivors = names.slice(0, -1);
    const detection = await killAndDetect(victim, victimName, main, survivors, o.detectBoundMs);
    const { tKill } = detection;
    const c = ns.counters();

    const running = (e: SeenEvent) => e.member !== victimName || e.t < tKill;
    const all = [...main.events, ...victim.events.filter((e) => e.t < tKill)];
    const afterKill = main.events.filter((e) => e.member === victimName && e.t >= tKill);
    const firstOf = (type: string) => {
      const t = afterKill.find((e) => e.type === type)?.t;
      return t === undefined ? undefined : t - tKill;
    };
    const result: LossResult = {
      members: o.members,
      lossPct: o.lossPct,
      lossMs: o.lossMs,
      measuredLossPct: c.counted ? Math.round((c.dropped / c.counted) * 1000) / 10 : 0,
      packets: c.counted,
      convergeMs: converged - t0,
      falseDeaths: all.filter((e) => e.type === "dead" && running(e)),
      falseSuspicions: all.filter((e) => e.type === "suspect" && running(e)).length,
      suspectedMembers: new Set(
        all.filter((e) => e.type === "suspect" && running(e))
          .map((e) => e.member),
      ).size,
      firstSuspectMs: firstOf("suspect"),
      firstDeadMs: firstOf("dead"),
      allDeadMs: detection.allDeadMs,
      undetectedBy: detection.undetectedBy,
      hostErrors: hosts.flatMap((h) => h.errors),
    };
    return result;
  } finally {
    await Promise.allSettled(hosts.map((h) => h.stop()));
    ns.delete();
  }
}

// ---------------------------------------------------------------------------------------------

/** Options of {@linkcode partitionScenario}. */
export interface PartitionOptions {
  /** Even; half on ports 7000…, half on 7100…. */
  readonly members: number;
  readonly splitMs: number;
  /** Longest wait for one view after the heal. */
  readonly healBoundMs: number;
  readonly tag?: string;
  readonly log?: Log;
}

/** What {@linkcode partitionScenario} measured. */
export interface PartitionResult {
  readonly members: number;
  readonly splitMs: number;
  readonly convergeMs: number;
  /** Observer → member pairs across the cut that saw suspect or dead during the split. */
  readonly crossSuspected: number;
  /** … and that saw dead. */
  readonly crossDead: number;
  readonly crossPairs: number;
  /** From the cut until every cross pair was dead (when all were). */
  readonly allCrossDeadMs: number | undefined;
  /** `dead` events inside one half during the split (false deaths). */
  readonly sameSideDeaths: SeenEvent[];
  /** From the heal until every member sees every other alive; undefined when not in bound. */
  readonly healMs: number | undefined;
  /** Who did not see whom alive at the end, when not healed. */
  readonly notHealed: string[];
  readonly hostErrors: string[];
}

/**
 * Two halves on one loopback, told apart by port: UDP between the halves is dropped, and TCP
 * everywhere (a dialer's source port and address do not tell the halves apart, see the
 * reference), for `splitMs`; then the rules go and every member must see every other alive.
 */
export async function partitionScenario(o: PartitionOptions): Promise<PartitionResult> {
  const log = o.log ?? (() => {});
  const ns = Netns.create(o.tag ?? "part");
  const hosts: Host[] = [];
  try {
    const half = o.members / 2;
    const a = range(half).map((i) => `a${i}`);
    const b = range(half).map((i) => `b${i}`);
    const names = [...a, ...b];
    const seeds = ["127.0.0.1:7000"];
    const side = (prefix: string, base: number): NodeSpec[] =>
      range(half).map((i) => ({
        name: `${prefix}${i}`,
        bind: `127.0.0.1:${base + i}`,
        seeds: prefix === "a" && i === 0 ? [] : seeds,
      }));
    const lifeMs = o.splitMs + o.healBoundMs + 120_000;
    const t0 = Date.now();
    const hostA = new Host(ns, spec(side("a", 7000), lifeMs));
    hosts.push(hostA);
    await hostA.started(half, 60_000);
    const hostB = new Host(ns, spec(side("b", 7100), lifeMs));
    hosts.push(hostB);
    await hostB.started(half, 60_000);
    const converged = await converge(hosts, names, 60_000);
    log(`partition: ${o.members} members converged in ${converged - t0} ms; splitting`);

    const ra = `7000-${7000 + half - 1}`, rb = `7100-${7100 + half - 1}`;
    const tSplit = Date.now();
    ns.drop(`udp sport ${ra} udp dport ${rb}`);
    ns.drop(`udp sport ${rb} udp dport ${ra}`);
    ns.drop("meta l4proto tcp");
    await sleep(o.splitMs);
    const events = [...hostA.events, ...hostB.events].filter((e) => e.t >= tSplit);
    const sideOf = (n: string) => n[0];
    const cross = (e: SeenEvent) => sideOf(e.observer) !== sideOf(e.member);
    const pairs = new Map<string, { suspect?: number; dead?: number }>();
    for (const e of events.filter(cross)) {
      const key = `${e.observer}>${e.member}`;
      const p = pairs.get(key) ?? {};
      if (e.type === "suspect" && p.suspect === undefined) p.suspect = e.t;
      if (e.type === "dead" && p.dead === undefined) p.dead = e.t;
      pairs.set(key, p);
    }
    const crossPairs = 2 * half * half;
    const deadTimes = [...pairs.values()].map((p) => p.dead).filter((t) => t !== undefined);
    const c = ns.counters();
    ns.flush();
    const tHeal = Date.now();
    log(`partition: healed after ${tHeal - tSplit} ms (${c.dropped} packets dropped)`);

    let healMs: number | undefined;
    let last: Record<string, Record<string, string>> = {};
    try {
      await waitUntil(
        async () => {
          last = await views(hosts);
          return allAlive(last, names, names);
        },
        o.healBoundMs,
        "one view after the heal",
        250,
      );
      healMs = Date.now() - tHeal;
    } catch { /* reported as notHealed */ }
    return {
      members: o.members,
      splitMs: o.splitMs,
      convergeMs: converged - t0,
      crossSuspected: [...pairs.values()].filter((p) => p.suspect !== undefined || p.dead).length,
      crossDead: deadTimes.length,
      crossPairs,
      allCrossDeadMs: deadTimes.length === crossPairs
        ? Math.max(...(deadTimes as number[])) - tSplit
        : undefined,
      sameSideDeaths: events.filter((e) => !cross(e) && e.type === "dead" && e.t < tHeal),
      healMs,
      notHealed: healMs === undefined ? missing(last, names) : [],
      hostErrors: hosts.flatMap((h) => h.errors),
    };
  } finally {
    await Promise.allSettled(hosts.map((h) => h.stop()));
    ns.delete();
  }
}

// ---------------------------------------------------------------------------------------------

/** Options of {@linkcode stallScenario}. */
export interface StallOptions {
  /** Cluster size, the frozen member included. */
  readonly members: number;
  /** How long the member is stopped (SIGSTOP … SIGCONT). */
  readonly stopMs: number;
  /** How long to keep watching after the refutation reached everyone. */
  readonly watchMs: number;
  readonly tag?: string;
  readonly log?: Log;
}

/** What {@linkcode stallScenario} measured. */
export interface StallResult {
  readonly members: number;
  readonly stopMs: number;
  /** Observers that suspected the frozen member. */
  readonly suspectedBy: number;
  /** From SIGSTOP to the first suspicion. */
  readonly firstSuspectMs: number | undefined;
  /** From SIGCONT until every observer holds it alive with a higher incarnation. */
  readonly refutedMs: number | undefined;
  /** Any `dead` event, by anyone about anyone (all members were live throughout). */
  readonly deaths: SeenEvent[];
  /** Final state of the frozen member at each observer. */
  readonly finalStates: string[];
  readonly hostErrors: string[];
}

/**
 * `members − 1` members in one process and one more in its own process, which is frozen with
 * SIGSTOP for `stopMs` and then continued: it must refute, and nobody may declare it dead.
 */
export async function stallScenario(o: StallOptions): Promise<StallResult> {
  const log = o.log ?? (() => {});
  const ns = Netns.create(o.tag ?? "stall");
  const hosts: Host[] = [];
  try {
    const observers = range(o.members - 1).map((i) => `s${i}`);
    const names = [...observers, "frozen"];
    const seeds = ["127.0.0.1:7300"];
    const lifeMs = o.stopMs + o.watchMs + 180_000;
    const main = new Host(
      ns,
      spec(
        observers.map((n, i) => ({
          name: n,
          bind: `127.0.0.1:${7300 + i}`,
          seeds: i ? seeds : [],
        })),
        lifeMs,
      ),
    );
    hosts.push(main);
    await main.started(observers.length, 60_000);
    const frozen = new Host(
      ns,
      spec([{ name: "frozen", bind: `127.0.0.1:${7300 + o.members - 1}`, seeds }], lifeMs),
    );
    hosts.push(frozen);
    await frozen.started(1, 60_000);
    await converge(hosts, names, 60_000);
    await sleep(2000);
    const inc = (s: string | undefined) => Number(s?.split("/")[1] ?? -1);
    const before = (await main.view())[observers[0]].frozen;
    const startInc = inc(before);

    log(`stall: SIGSTOP for ${o.stopMs} ms`);
    const tStop = Date.now();
    frozen.signal("SIGSTOP");
    await sleep(o.stopMs);
    frozen.signal("SIGCONT");
    const tCont = Date.now();
    let refutedMs: number | undefined;
    await waitUntil(
      async () => {
        const v = await main.view();
        return observers.every((s) =>
          v[s].frozen.startsWith("alive/") && inc(v[s].frozen) > startInc
        );
      },
      60_000,
      "the refutation to reach every observer",
      50,
    ).then(() => (refutedMs = Date.now() - tCont), () => {});
    await sleep(o.watchMs);
    const v = await main.view();
    const seen = main.events.filter((e) => e.member === "frozen" && e.t >= tStop);
    const suspects = seen.filter((e) => e.type === "suspect");
    return {
      members: o.members,
      stopMs: o.stopMs,
      suspectedBy: new Set(suspects.map((e) => e.observer)).size,
      firstSuspectMs: suspects.length ? suspects[0].t - tStop : undefined,
      refutedMs,
      deaths: [...main.events, ...frozen.events].filter((e) => e.type === "dead"),
      finalStates: observers.map((s) => `${s}:${v[s].frozen}`),
      hostErrors: hosts.flatMap((h) => h.errors),
    };
  } finally {
    await Promise.allSettled(hosts.map((h) => h.stop()));
    ns.delete();
  }
}

// ---------------------------------------------------------------------------------------------

/** Options of {@linkcode churnScenario} (a soak, for `bench/soak.ts`; not run in CI). */
export interface ChurnOptions {
  readonly members: number;
  readonly durationMs: number;
  /** A random member (never the seed) is closed without leaving this often… */
  readonly everyMs: number;
  /** …and started again under the same name and port this much later. */
  readonly downMs: number;
  /** Optional random loss of UDP and TCP during the churn. */
  readonly lossPct?: number;
  /** Longest wait for one view after the churn ends. */
  readonly settleBoundMs: number;
  readonly tag?: string;
  readonly log?: Log;
}

/** What {@linkcode churnScenario} measured. */
export interface ChurnResult {
  readonly members: number;
  readonly durationMs: number;
  readonly kills: number;
  /** `dead` events about a life that was running at the time. */
  readonly falseDeaths: SeenEvent[];
  /** Per kill, from the close until every member up since declared it dead (within downMs). */
  readonly detectionMs: number[];
  /** Kills not detected by everyone before the restart. */
  readonly undetected: number;
  /** From the end of the churn to one view again; undefined when not within the bound. */
  readonly settleMs: number | undefined;
  readonly notSettled: string[];
  readonly hostErrors: string[];
}

/**
 * Churn: `members` members in one process; every `everyMs` one is closed (no leave) and
 * `downMs` later started again with the same name and port (a new life, a higher incarnation).
 */
export async function churnScenario(o: ChurnOptions): Promise<ChurnResult> {
  const log = o.log ?? (() => {});
  const ns = Netns.create(o.tag ?? "churn");
  const hosts: Host[] = [];
  try {
    const names = range(o.members).map((i) => `c${pad(i)}`);
    const node = (i: number): NodeSpec => ({
      name: names[i],
      bind: `127.0.0.1:${7500 + i}`,
      seeds: i ? ["127.0.0.1:7500"] : [],
    });
    const host = new Host(ns, spec(range(o.members).map(node), o.durationMs + 600_000));
    hosts.push(host);
    await host.started(o.members, 60_000);
    await converge(hosts, names, 60_000);
    if (o.lossPct) ns.drop(`meta l4proto { udp, tcp } numgen random mod 100 < ${o.lossPct}`);
    // Lives: name → [start incarnation, from, to].
    const lives: { name: string; inc: number; from: number; to?: number }[] = names.map((n) => ({
      name: n,
      inc: host.ready.get(n)!.incarnation,
      from: 0,
    }));
    const down = new Set<string>();
    const lastKill = new Map<string, number>();
    const detectionMs: number[] = [];
    let undetected = 0, kills = 0;
    const end = Date.now() + o.durationMs;
    while (Date.now() + o.everyMs <= end) {
      await sleep(o.everyMs);
      const candidates = names.slice(1).filter((n) => !down.has(n));
      const victim = candidates[Math.floor(Math.random() * candidates.length)];
      const tKill = Date.now();
      host.send(`close ${victim}`);
      kills++;
      lastKill.set(victim, tKill);
      down.add(victim);
      lives.find((l) => l.name === victim && l.to === undefined)!.to = tKill;
      const witnesses = names.filter((n) => !down.has(n));
      void (async () => {
        await sleep(o.downMs);
        // Witnesses: members up from this kill until now (one killed meanwhile cannot tell).
        const up = witnesses.filter((w) => (lastKill.get(w) ?? 0) <= tKill);
        const dead = up.map((w) =>
          host.events.find((e) =>
            e.observer === w && e.member === victim && e.type === "dead" && e.t >= tKill
          )?.t
        );
        if (dead.every((t) => t !== undefined)) {
          detectionMs.push(Math.max(...(dead as number[])) - tKill);
        } else undetected++;
        const i = names.indexOf(victim);
        host.ready.delete(victim);
        host.send(`start ${JSON.stringify(node(i))}`);
        await waitUntil(() => host.ready.has(victim), 30_000, `${victim} to restart`);
        lives.push({ name: victim, inc: host.ready.get(victim)!.incarnation, from: Date.now() });
        down.delete(victim);
      })().catch((e) => host.errors.push(String(e)));
      if (kills % 10 === 0) {
        log(`churn: ${kills} kills, ${detectionMs.length} detected by all, ${undetected} not`);
      }
    }
    await waitUntil(() => down.size === 0, o.downMs + 40_000, "the last restart");
    ns.flush();
    const tEnd = Date.now();
    let settleMs: number | undefined;
    let last: Record<string, Record<string, string>> = {};
    await waitUntil(
      async () => {
        last = await views(hosts);
        return allAlive(last, names, names);
      },
      o.settleBoundMs,
      "one view after the churn",
      250,
    ).then(() => (settleMs = Date.now() - tEnd), () => {});
    const falseDeaths = host.events.filter((e) =>
      e.type === "dead" &&
      lives.some((l) =>
        l.name === e.member && l.from <= e.t && (l.to ?? Infinity) >= e.t && e.incarnation >= l.inc
      )
    );
    return {
      members: o.members,
      durationMs: o.durationMs,
      kills,
      falseDeaths,
      detectionMs,
      undetected,
      settleMs,
      notSettled: settleMs === undefined ? missing(last, names) : [],
      hostErrors: hosts.flatMap((h) => h.errors),
    };
  } finally {
    await Promise.allSettled(hosts.map((h) => h.stop()));
    ns.delete();
  }
}

// ---------------------------------------------------------------------------------------------

/** Options of {@linkcode badLinkScenario}. */
export interface BadLinkOptions {
  readonly members: number;
  /** Percentage of the UDP and TCP packets to the bad member's address that are dropped. */
  readonly lossPct: number;
  /** How long the bad link lasts before a healthy member is killed. */
  readonly linkMs: number;
  /** Longest wait for every healthy survivor to declare the killed member dead. */
  readonly detectBoundMs: number;
  /** Config overrides for every member (e.g. `{ flapDamping: null }` for the raw events). */
  readonly config?: HostSpec["config"];
  readonly tag?: string;
  readonly log?: Log;
}

/** What {@linkcode badLinkScenario} measured. */
export interface BadLinkResult {
  readonly members: number;
  readonly lossPct: number;
  readonly linkMs: number;
  /** Share of the packets to the bad member that the rule dropped. */
  readonly measuredLossPct: number;
  /** Events about the bad member per healthy observer while the link was bad. */
  readonly eventsPerObserver: { readonly mean: number; readonly max: number };
  /** The same events by type, all observers together. */
  readonly byType: Readonly<Record<string, number>>;
  /** `dead` events about healthy members that were running. */
  readonly falseDeaths: SeenEvent[];
  /** Time from the kill of a healthy member to its death at every healthy survivor. */
  readonly allDeadMs: number | undefined;
  readonly undetectedBy: string[];
  readonly hostErrors: string[];
}

/**
 * `members` members (LAN timing) on one loopback; one of them, alone at 127.0.0.2, loses
 * `lossPct` % of every UDP datagram and TCP segment sent to that address (its ingress) for
 * `linkMs`. Counts the events the others emit about it; then a healthy member's process is
 * killed and every healthy survivor must declare it dead, the bad link still on.
 */
export async function badLinkScenario(o: BadLinkOptions): Promise<BadLinkResult> {
  const log = o.log ?? (() => {});
  const ns = Netns.create(o.tag ?? "badlink");
  const hosts: Host[] = [];
  try {
    const names = range(o.members).map((i) => `b${pad(i)}`);
    const badName = names[o.members - 1], victimName = names[o.members - 2];
    const node = (i: number): NodeSpec => ({
      name: names[i],
      bind: i === o.members - 1 ? "127.0.0.2:7946" : `127.0.0.1:${7946 + i}`,
      seeds: i ? ["127.0.0.1:7946"] : [],
    });
    const lifeMs = o.linkMs + o.detectBoundMs + 120_000;
    const main = new Host(ns, spec(range(o.members - 2).map(node), lifeMs, { config: o.config }));
    hosts.push(main);
    await main.started(o.members - 2, 60_000);
    const victim = new Host(ns, spec([node(o.members - 2)], lifeMs, { config: o.config }));
    const bad = new Host(ns, spec([node(o.members - 1)], lifeMs, { config: o.config }));
    hosts.push(victim, bad);
    await Promise.all([victim.started(1, 60_000), bad.started(1, 60_000)]);
    await converge(hosts, names, 60_000);

    ns.count("ip daddr 127.0.0.2 meta l4proto { udp, tcp }");
    ns.drop(`ip daddr 127.0.0.2 meta l4proto { udp, tcp } numgen random mod 100 < ${o.lossPct}`);
    const tBad = Date.now();
    const about = () =>
      [...main.events, ...victim.events].filter((e) => e.member === badName && e.t >= tBad);
    const linkEnd = tBad + o.linkMs;
    while (Date.now() < linkEnd) {
      await sleep(Math.min(30_000, linkEnd - Date.now()));
      log(`bad link: ${about().length} events about ${badName} so far`);
    }
    const seen = about();
    const healthy = names.filter((n) => n !== badName);
    const counts = healthy.map((h) => seen.filter((e) => e.observer === h).length);
    const byType: Record<string, number> = {};
    for (const e of seen) byType[e.type] = (byType[e.type] ?? 0) + 1;

    const survivors = healthy.filter((n) => n !== victimName);
    const detection = await killAndDetect(victim, victimName, main, survivors, o.detectBoundMs);
    const { tKill } = detection;
    const c = ns.counters();
    const all = [...main.events, ...victim.events.filter((e) => e.t < tKill)];
    return {
      members: o.members,
      lossPct: o.lossPct,
      linkMs: o.linkMs,
      measuredLossPct: c.counted ? Math.round((c.dropped / c.counted) * 1000) / 10 : 0,
      eventsPerObserver: {
        mean: Math.round((counts.reduce((a, b) => a + b, 0) / counts.length) * 10) / 10,
        max: Math.max(...counts),
      },
      byType,
      falseDeaths: all.filter((e) =>
        e.type === "dead" && e.member !== badName && (e.member !== victimName || e.t < tKill)
      ),
      allDeadMs: detection.allDeadMs,
      undetectedBy: detection.undetectedBy,
      hostErrors: hosts.flatMap((h) => h.errors),
    };
  } finally {
    await Promise.allSettled(hosts.map((h) => h.stop()));
    ns.delete();
  }
}
