/**
 * `deno task edge`: three edge services (examples/edge_service/service.ts) as child
 * processes on 127.0.0.1, requests driven through one of them while a member is killed and
 * another joins, and how the requests were routed: per owner, before and after each change.
 *
 *   deno task edge              (or: deno run -A examples/edge_service/demo.ts)
 *   bun examples/edge_service/demo.ts
 *
 * Options: `--keys N` (distinct keys per pass, default 300). Ends by itself (every instance
 * receives SIGTERM and leaves); a hard limit of 90 s stops everything.
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ownerOf } from "../../mod.ts";

const SERVICE = fileURLToPath(new URL("./service.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const EMPTY = new Uint8Array(0);

/** One answered (or failed) request. */
export interface Routed {
  readonly key: string;
  readonly status: number; // 0: no HTTP answer at all
  readonly servedBy: string | undefined;
  readonly owner: string | undefined;
  readonly fallback: boolean;
  /** Milliseconds since the start of the run. */
  readonly at: number;
}

/** A pass over every key, or the stream of requests while the cluster changes. */
export interface Phase {
  readonly label: string;
  /** The members expected to own keys in this phase (for passes at rest). */
  readonly members: readonly string[];
  readonly requests: readonly Routed[];
  /** Milliseconds the phase took. */
  readonly ms: number;
}

/** What {@linkcode runEdgeDemo} observed. */
export interface EdgeDemoReport {
  readonly runtime: "deno" | "bun";
  readonly entry: string;
  readonly killed: string;
  readonly joined: string;
  /** In order: "3 members", "while edge-3 dies", "after kill", "while edge-4 joins", "after join". */
  readonly phases: readonly Phase[];
  /** When the victim was killed, in milliseconds since the start of the run. */
  readonly killedAt: number;
  /** Milliseconds from the kill until the entry no longer counted the victim an owner. */
  readonly detectedAfterMs: number;
  /** What the joiner's `/healthz` answered once it had joined. */
  readonly joinerHealth: number;
  /** What the entry saw of the joiner after SIGTERM to it: `left` for a graceful leave. */
  readonly joinerStateAfterTerm: string | undefined;
  /** Exit code of every instance stopped with SIGTERM (the killed one is not included). */
  readonly exitCodes: Readonly<Record<string, number | null>>;
}

/** Options of {@linkcode runEdgeDemo}. */
export interface EdgeDemoOptions {
  /** Distinct keys per pass. Default 300. */
  readonly keys?: number;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
}

/** A child process running service.ts. */
class Instance {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";
  readonly exited: Promise<number | null>;
  readonly ready: Promise<{ http: string; gossip: string }>;

  constructor(readonly name: string, seeds: string[]) {
    const deno = "Deno" in globalThis;
    const args = [
      ...(deno ? ["run", "-A", "--unstable-net"] : []),
      SERVICE,
      "--name",
      name,
      ...(seeds.length ? ["--join", seeds.join(",")] : []),
    ];
    this.child = spawn(process.execPath, args, {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    let resolveReady!: (v: { http: string; gossip: string }) => void;
    let rejectReady!: (e: Error) => void;
    this.ready = new Promise((resolve, reject) => {
      resolveReady = resolve;
      rejectReady = reject;
    });
    this.child.stdout!.on("data", (chunk: Uint8Array) => {
      this.stdout += new TextDecoder().decode(chunk);
      const m = this.stdout.match(/edge-ready (\{.*\})\n/);
      if (m) resolveReady(JSON.parse(m[1]));
    });
    this.child.stderr!.on("data", (chunk: Uint8Array) => {
      this.stderr += new TextDecoder().decode(chunk);
    });
    this.exited = new Promise((resolve) => {
      this.child.on("close", (code) => {
        rejectReady(new Error(`${name} exited (${code}) before it was ready:\n${this.stderr}`));
        resolve(code);
      });
    });
    // Never an unhandled rejection: whoever needs readiness awaits it.
    this.ready.catch(() => {});
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Send `signal`; wait (up to `timeoutMs`, then SIGKILL) for the exit code. */
  async stop(signal: "SIGTERM" | "SIGKILL", timeoutMs = 20_000): Promise<number | null> {
    if (this.running) {
      // process.kill, not child.kill: Deno's child_process then reports the exit status.
      process.kill(this.child.pid!, signal);
      const timer = setTimeout(() => {
        if (this.running) process.kill(this.child.pid!, "SIGKILL");
      }, timeoutMs);
      await this.exited;
      clearTimeout(timer);
    }
    return await this.exited;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** GET `url` as JSON with a timeout; undefined when there is no answer. */
async function getJson<T>(url: string): Promise<{ status: number; body: T } | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
    return { status: res.status, body: await res.json() as T };
  } catch {
    return undefined;
  }
}

interface PeerJson {
  name: string;
  state: string;
  tags: Record<string, string> | null;
}

/** The members `http` counts as owners: alive or suspect, tagged role=edge. */
async function ownersSeenBy(http: string): Promise<string[] | undefined> {
  const r = await getJson<{ members: PeerJson[] }>(`http://${http}/peers`);
  if (!r || r.status !== 200) return undefined;
  return r.body.members
    .filter((m) => (m.state === "alive" || m.state === "suspect") && m.tags?.role === "edge")
    .map((m) => m.name)
    .sort();
}

/** Poll until `check` is true; false when `timeoutMs` passes first. */
async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (let i = 0; i < 10_000 && Date.now() < end; i++) {
    if (await check()) return true;
    await sleep(50);
  }
  return false;
}

/** The owner of `key` among `members`, by the same rendezvous hashing the service uses. */
export function expectedOwner(key: string, members: readonly string[]): string {
  return ownerOf(key, members.map((name) => ({ name, state: "alive" as const, meta: EMPTY })))!
    .name;
}

/**
 * Run the scenario and report what happened. Every child process is stopped before this
 * returns or throws.
 *
 * @example
 * ```ts ignore
 * const report = await runEdgeDemo({ keys: 200 });
 * console.log(formatReport(report));
 * ```
 */
export async function runEdgeDemo(options: EdgeDemoOptions = {}): Promise<EdgeDemoReport> {
  const keyCount = options.keys ?? 300;
  const log = options.log ?? (() => {});
  const keys = Array.from({ length: keyCount }, (_, i) => `key-${i}`);
  const t0 = Date.now();
  const instances = new Map<string, Instance>();
  const exitCodes: Record<string, number | null> = {};
  const hardLimit = setTimeout(() => {
    for (const i of instances.values()) if (i.running) process.kill(i.child.pid!, "SIGKILL");
  }, 90_000);

  const start = async (name: string, seeds: string[]) => {
    const inst = new Instance(name, seeds);
    instances.set(name, inst);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const addr = await Promise.race([
      inst.ready,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${name} not ready after 20 s:\n${inst.stderr}`)),
          20_000,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    log(`started ${name}: http ${addr.http}, gossip ${addr.gossip}`);
    return addr;
  };

  try {
    const entryName = "edge-1", victim = "edge-3", joiner = "edge-4";
    const first = await start(entryName, []);
    const others = await Promise.all(["edge-2", victim].map((n) => start(n, [first.gossip])));
    const https = new Map([[entryName, first.http], ["edge-2", others[0].http], [
      victim,
      others[1].http,
    ]]);
    const entry = first.http;

    const converged = (names: string[]) =>
      until(async () => {
        for (const n of names) {
          const seen = await ownersSeenBy(https.get(n)!);
          if (seen?.join() !== [...names].sort().join()) return false;
        }
        return true;
      }, 20_000);
    const three = [entryName, "edge-2", victim];
    if (!await converged(three)) throw new Error("the three instances did not converge in 20 s");
    log(`${three.join(", ")} see each other`);

    const request = async (key: string): Promise<Routed> => {
      try {
        const res = await fetch(`http://${entry}/kv/${encodeURIComponent(key)}`, {
          signal: AbortSignal.timeout(5000),
        });
        await res.arrayBuffer();
        return {
          key,
          status: res.status,
          servedBy: res.headers.get("x-edge-served-by") ?? undefined,
          owner: res.headers.get("x-edge-owner") ?? undefined,
          fallback: res.headers.has("x-edge-fallback"),
          at: Date.now() - t0,
        };
      } catch {
        return {
          key,
          status: 0,
          servedBy: undefined,
          owner: undefined,
          fallback: false,
          at: Date.now() - t0,
        };
      }
    };
    const phases: Phase[] = [];
    /** One request per key, a few at a time. */
    const pass = async (label: string, members: string[]) => {
      const began = Date.now();
      const requests: Routed[] = [];
      for (let i = 0; i < keys.length; i += 8) {
        requests.push(...await Promise.all(keys.slice(i, i + 8).map(request)));
      }
      phases.push({ label, members, requests, ms: Date.now() - began });
      log(`${label}: ${keys.length} requests`);
    };
    /** Requests over the keys, round robin, until `done` (bounded: 30 s, 20,000 requests). */
    const stream = async (label: string, members: string[], done: () => Promise<boolean>) => {
      const began = Date.now();
      const requests: Routed[] = [];
      let finished = false;
      for (let i = 0; i < 20_000 && Date.now() - began < 30_000; i += 4) {
        requests.push(
          ...await Promise.all([0, 1, 2, 3].map((j) => request(keys[(i + j) % keys.length]))),
        );
        if (i % 20 === 0 && await done()) {
          finished = true;
          break;
        }
      }
      phases.push({ label, members, requests, ms: Date.now() - began });
      if (!finished) throw new Error(`${label}: the cluster did not settle in 30 s`);
    };

    await pass("3 members", three);

    log(`killing ${victim} (SIGKILL: no goodbye)`);
    const killedAt = Date.now();
    await instances.get(victim)!.stop("SIGKILL");
    let detectedAfterMs = -1;
    const two = [entryName, "edge-2"];
    await stream(`while ${victim} dies`, two, async () => {
      const seen = await ownersSeenBy(entry);
      if (seen?.join() !== two.join()) return false;
      detectedAfterMs = Date.now() - killedAt;
      return true;
    });
    log(`${entryName} stopped counting ${victim} an owner ${detectedAfterMs} ms after the kill`);
    if (!await converged(two)) throw new Error("the survivors did not agree in 20 s");
    await pass("after kill", two);

    log(`starting ${joiner}`);
    const j = await start(joiner, [first.gossip]);
    https.set(joiner, j.http);
    const four = [entryName, "edge-2", joiner];
    await stream(`while ${joiner} joins`, four, async () => {
      const seen = await ownersSeenBy(entry);
      return seen?.join() === four.join();
    });
    if (!await converged(four)) throw new Error(`${joiner} was not seen by all in 20 s`);
    await pass("after join", four);
    const health = await getJson<unknown>(`http://${j.http}/healthz`);

    // Graceful stop of the joiner: the entry must see it leave, not die.
    log(`SIGTERM to ${joiner}`);
    exitCodes[joiner] = await instances.get(joiner)!.stop("SIGTERM");
    let joinerState: string | undefined;
    await until(async () => {
      const r = await getJson<{ members: PeerJson[] }>(`http://${entry}/peers`);
      joinerState = r?.body.members.find((m) => m.name === joiner)?.state;
      return joinerState === "left" || joinerState === "dead";
    }, 10_000);

    log(`${entryName} sees ${joiner} ${joinerState}; SIGTERM to ${two.join(" and ")}`);
    const codes = await Promise.all(two.map((name) => instances.get(name)!.stop("SIGTERM")));
    two.forEach((name, i) => exitCodes[name] = codes[i]);
    log("every instance has exited");
    return {
      runtime: "Deno" in globalThis ? "deno" : "bun",
      entry: entryName,
      killed: victim,
      joined: joiner,
      phases,
      killedAt: killedAt - t0,
      detectedAfterMs,
      joinerHealth: health?.status ?? 0,
      joinerStateAfterTerm: joinerState,
      exitCodes,
    };
  } finally {
    clearTimeout(hardLimit);
    for (const inst of instances.values()) await inst.stop("SIGKILL");
  }
}

/** Requests served by each member in a phase, and how many matched the expected owner. */
export function tally(phase: Phase): {
  byServer: Record<string, number>;
  toOwner: number;
  fallbacks: number;
  errors: number;
} {
  const byServer: Record<string, number> = {};
  let toOwner = 0, fallbacks = 0, errors = 0;
  for (const r of phase.requests) {
    if (r.status === 0 || r.status >= 500) errors++;
    if (r.fallback) fallbacks++;
    if (!r.servedBy) continue;
    byServer[r.servedBy] = (byServer[r.servedBy] ?? 0) + 1;
    if (r.servedBy === expectedOwner(r.key, phase.members)) toOwner++;
  }
  return { byServer, toOwner, fallbacks, errors };
}

/** Who served each key in a pass. */
export function servers(phase: Phase): Map<string, string> {
  return new Map(phase.requests.map((r) => [r.key, r.servedBy ?? "-"]));
}

/** Keys that changed server between two passes, as "from → to" counts. */
export function moves(before: Phase, after: Phase): Record<string, number> {
  const a = servers(before), b = servers(after);
  const out: Record<string, number> = {};
  for (const [key, from] of a) {
    const to = b.get(key);
    if (to !== undefined && to !== from) out[`${from} → ${to}`] = (out[`${from} → ${to}`] ?? 0) + 1;
  }
  return out;
}

/** The routing table, one line per phase, and the keys that moved. */
export function formatReport(report: EdgeDemoReport): string {
  const names = ["edge-1", "edge-2", "edge-3", "edge-4"];
  const lines = [
    `routing through ${report.entry} (${report.runtime}); ${report.killed} killed, ${report.joined} joins`,
    "",
    `${"phase".padEnd(22)}${names.map((n) => n.padStart(8)).join("")}${"to owner".padStart(10)}${
      "fallback".padStart(10)
    }${"5xx/err".padStart(9)}${"ms".padStart(7)}`,
  ];
  for (const p of report.phases) {
    const t = tally(p);
    const at = names.map((n) => String(t.byServer[n] ?? "-").padStart(8)).join("");
    const owner = p.label.startsWith("while") ? "" : `${t.toOwner}/${p.requests.length}`;
    lines.push(
      `${p.label.padEnd(22)}${at}${owner.padStart(10)}${String(t.fallbacks).padStart(10)}${
        String(t.errors).padStart(9)
      }${String(p.ms).padStart(7)}`,
    );
  }
  const pass = (label: string) => report.phases.find((p) => p.label === label)!;
  const fmt = (m: Record<string, number>) =>
    Object.entries(m).sort().map(([k, v]) => `${k}: ${v}`).join(", ") || "none";
  lines.push(
    "",
    `keys moved by the kill: ${fmt(moves(pass("3 members"), pass("after kill")))}`,
    `keys moved by the join: ${fmt(moves(pass("after kill"), pass("after join")))}`,
    `${report.killed} no longer an owner at ${report.entry} ${report.detectedAfterMs} ms after the kill`,
    `${report.joined} /healthz once joined: ${report.joinerHealth}; after SIGTERM ${report.entry} sees it ${report.joinerStateAfterTerm}`,
    `exit codes after SIGTERM: ${
      Object.entries(report.exitCodes).map(([n, c]) => `${n} ${c}`).join(", ")
    }`,
  );
  return lines.join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { keys: { type: "string", default: "300" } },
  });
  const t0 = Date.now();
  const report = await runEdgeDemo({
    keys: Number(values.keys),
    log: (line) => console.log(`${((Date.now() - t0) / 1000).toFixed(2).padStart(6)}s ${line}`),
  });
  console.log("\n" + formatReport(report));
}
