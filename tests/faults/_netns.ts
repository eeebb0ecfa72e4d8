/**
 * Network namespaces, nftables rules and member-host processes for the fault tests (see
 * /work/shared/reference/fault-injection.md: `tc netem` is absent here, nftables works).
 *
 * A {@linkcode Netns} is a namespace of our own with only its loopback up and one nftables
 * table `inet shoalf` whose `input` chain the test fills with drop rules. A {@linkcode Host}
 * is a child process of the test's runtime running `_member.ts` inside a namespace; it
 * reports JSON lines that the test collects. Everything created is registered so that
 * {@linkcode cleanupAll} (and, as a last resort, the process's `exit`) removes it.
 *
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { runtimeName } from "../../mod.ts";
import type { HostSpec } from "./_member.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const memberScript = fileURLToPath(new URL("./_member.ts", import.meta.url));
const PREFIX = "shoalf";

const namespaces = new Set<Netns>();
const hosts = new Set<Host>();

/** Why namespace fault tests cannot run here, or `undefined` when they can. */
export function netnsUnsupported(): string | undefined {
  if (process.platform !== "linux") return `not Linux (${process.platform})`;
  if (typeof process.getuid === "function" && process.getuid() !== 0) {
    return "not root (network namespaces and nftables need root)";
  }
  for (const [tool, args] of [["ip", ["-V"]], ["nft", ["--version"]]] as const) {
    const r = spawnSync(tool, [...args], { encoding: "utf8" });
    if (r.error || r.status !== 0) {
      return `\`${tool}\` is not available (${r.error?.message ?? r.status})`;
    }
  }
  // Creating one is the real test (a container may forbid it even for root).
  const probe = `${PREFIX}-${process.pid}-probe`;
  const add = run("ip", ["netns", "add", probe]);
  if (!add.ok) return `cannot create a network namespace: ${add.err}`;
  const nft = run("ip", ["netns", "exec", probe, "nft", "add", "table", "inet", "probe"]);
  run("ip", ["netns", "del", probe]);
  if (!nft.ok) return `nftables does not work in a namespace: ${nft.err}`;
  return undefined;
}

function run(cmd: string, args: string[]): { ok: boolean; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return {
    ok: !r.error && r.status === 0,
    out: r.stdout ?? "",
    err: (r.error?.message ?? "") + (r.stderr ?? "").trim(),
  };
}

function must(cmd: string, args: string[]): string {
  const r = run(cmd, args);
  if (!r.ok) throw new Error(`${cmd} ${args.join(" ")}: ${r.err}`);
  return r.out;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Remove namespaces left by earlier runs whose process is gone (e.g. killed by a timeout). */
function sweepStale(): void {
  if (!existsSync("/run/netns")) return;
  for (const name of readdirSync("/run/netns")) {
    const m = new RegExp(`^${PREFIX}-(\\d+)-`).exec(name);
    if (m && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]))) {
      run("ip", ["netns", "del", name]);
    }
  }
}

/** A network namespace of our own: loopback up, an nftables input chain to drop packets in. */
export class Netns {
  private constructor(readonly name: string) {}

  /** Create `shoalf-<pid>-<tag>` (unique per run), with `lo` up and an empty filter chain. */
  static create(tag: string): Netns {
    sweepStale();
    const ns = new Netns(`${PREFIX}-${process.pid}-${tag}`);
    run("ip", ["netns", "del", ns.name]); // a leftover of this very pid (cannot be live)
    must("ip", ["netns", "add", ns.name]);
    namespaces.add(ns);
    ns.exec("ip", "link", "set", "lo", "up");
    ns.nft("add table inet shoalf");
    ns.nft("add chain inet shoalf input { type filter hook input priority 0 ; policy accept ; }");
    return ns;
  }

  /** Run a command inside the namespace; throws on failure. */
  exec(...args: string[]): string {
    return must("ip", ["netns", "exec", this.name, ...args]);
  }

  /** One nft command (words split on spaces), inside the namespace. */
  nft(command: string): string {
    return this.exec("nft", ...command.split(" ").filter((w) => w));
  }

  /** Add a rule to the input chain, e.g. `udp dport 7000-7004 drop`. */
  drop(match: string): void {
    this.nft(`add rule inet shoalf input ${match} counter drop`);
  }

  /** Remove every rule (heal). */
  flush(): void {
    this.nft("flush chain inet shoalf input");
  }

  /** Add a rule that only counts, e.g. `meta l4proto { udp, tcp }` (put it first). */
  count(match: string): void {
    this.nft(`add rule inet shoalf input ${match} counter`);
  }

  /** Packets counted by the counting rules and dropped by the drop rules so far. */
  counters(): { counted: number; dropped: number } {
    const out = this.nft("list chain inet shoalf input");
    let counted = 0, dropped = 0;
    for (const line of out.split("\n")) {
      const m = /packets (\d+)/.exec(line);
      if (!m) continue;
      if (/\bdrop\b/.test(line)) dropped += Number(m[1]);
      else counted += Number(m[1]);
    }
    return { counted, dropped };
  }

  /** Delete the namespace (idempotent). */
  delete(): void {
    if (!namespaces.delete(this)) return;
    run("ip", ["netns", "del", this.name]);
  }
}

/** One line reported by a host. */
export interface Report {
  readonly ev: "ready" | "event" | "view" | "closed" | "error" | "bye";
  readonly t?: number;
  readonly name?: string;
  readonly port?: number;
  readonly incarnation?: number;
  readonly observer?: string;
  readonly type?: string;
  readonly member?: string;
  readonly id?: string;
  readonly views?: Record<string, Record<string, string>>;
  readonly message?: string;
}

/** A membership event as one observer saw it. */
export interface SeenEvent {
  readonly t: number;
  readonly observer: string;
  readonly type: string;
  readonly member: string;
  readonly incarnation: number;
}

/** A child process of this runtime running `_member.ts` inside a namespace. */
export class Host {
  readonly child: ChildProcess;
  readonly events: SeenEvent[] = [];
  readonly ready = new Map<string, { port: number; incarnation: number; t: number }>();
  readonly errors: string[] = [];
  #stderr = "";
  #buffered = "";
  #views = new Map<string, (v: Report) => void>();
  #seq = 0;
  #exited: Promise<number | null>;
  #exitCode: number | null | undefined;

  constructor(ns: Netns, spec: HostSpec) {
    const rt = runtimeName() === "deno" ? ["run", "-A", memberScript] : [memberScript];
    this.child = spawn(
      "ip",
      ["netns", "exec", ns.name, process.execPath, ...rt, JSON.stringify(spec)],
      { cwd: root, stdio: ["pipe", "pipe", "pipe"] },
    );
    hosts.add(this);
    this.child.stdout!.on("data", (c) => this.#onData(String(c)));
    this.child.stderr!.on("data", (c) => {
      this.#stderr = (this.#stderr + String(c)).slice(-4000);
    });
    this.child.stdin!.on("error", () => {}); // writes after exit
    this.#exited = new Promise((resolve) => {
      this.child.on("exit", (code) => {
        this.#exitCode = code;
        hosts.delete(this);
        resolve(code);
      });
    });
  }

  #onData(chunk: string): void {
    this.#buffered += chunk;
    let nl;
    while ((nl = this.#buffered.indexOf("\n")) >= 0) {
      const line = this.#buffered.slice(0, nl).trim();
      this.#buffered = this.#buffered.slice(nl + 1);
      if (!line.startsWith("{")) continue;
      let r: Report;
      try {
        r = JSON.parse(line);
      } catch {
        continue;
      }
      if (r.ev === "event") {
        this.events.push({
          t: r.t!,
          observer: r.observer!,
          type: r.type!,
          member: r.member!,
          incarnation: r.incarnation!,
        });
      } else if (r.ev === "ready") {
        this.ready.set(r.name!, { port: r.port!, incarnation: r.incarnation!, t: r.t! });
      } else if (r.ev === "view") {
        this.#views.get(r.id!)?.(r);
        this.#views.delete(r.id!);
      } else if (r.ev === "error") {
        this.errors.push(r.message!);
      }
    }
  }

  /** The process id (`ip netns exec` execs the runtime, so it is the runtime's). */
  get pid(): number {
    return this.child.pid!;
  }

  /** True while the process runs. */
  get running(): boolean {
    return this.#exitCode === undefined;
  }

  /** Recent stderr, for failure messages. */
  get stderr(): string {
    return this.#stderr;
  }

  send(line: string): void {
    if (this.running) this.child.stdin!.write(line + "\n");
  }

  /** Every node's member table: observer → member → `state/incarnation`. */
  async view(timeoutMs = 5000): Promise<Record<string, Record<string, string>>> {
    const id = String(++this.#seq);
    const got = new Promise<Report>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#views.delete(id);
        reject(new Error(`host ${this.pid}: no view within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#views.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
    });
    this.send(`view ${id}`);
    return (await got).views!;
  }

  /** Wait until `count` nodes reported ready. */
  async started(count: number, timeoutMs: number): Promise<void> {
    await waitUntil(
      () => {
        if (!this.running) throw new Error(`host exited early: ${this.errors} ${this.stderr}`);
        return this.ready.size >= count;
      },
      timeoutMs,
      `${count} nodes to start (stderr: ${this.#stderr.slice(-500)})`,
    );
  }

  /**
   * Send a signal by pid (Deno's `ChildProcess.kill` ignores every signal after a SIGSTOP, so
   * it could neither continue nor kill a frozen child).
   */
  signal(sig: "SIGSTOP" | "SIGCONT" | "SIGKILL" | "SIGTERM"): void {
    if (!this.running) return;
    try {
      process.kill(this.pid, sig);
    } catch { /* already gone */ }
  }

  /** Ask the host to quit; SIGKILL it if it has not exited within `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (!this.running) return;
    this.signal("SIGCONT"); // in case it is frozen
    this.send("quit");
    const timer = setTimeout(() => this.signal("SIGKILL"), graceMs);
    await Promise.race([this.#exited, sleep(graceMs + 2000)]);
    clearTimeout(timer);
  }
}

/** Stop every host and delete every namespace this process created. */
export async function cleanupAll(): Promise<void> {
  await Promise.allSettled([...hosts].map((h) => h.stop()));
  for (const ns of [...namespaces]) ns.delete();
}

// Last resort (an uncaught error, a runner that exits without running `after`): nothing the
// tests made may outlive the process.
process.on("exit", () => {
  for (const h of hosts) h.signal("SIGKILL");
  for (const ns of namespaces) spawnSync("ip", ["netns", "del", ns.name]);
});

/** Poll `predicate` every `everyMs` until it is true; throws after `timeoutMs`. */
export async function waitUntil(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  everyMs = 100,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() >= end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Merge the views of several hosts (each observer appears in exactly one). */
export async function views(
  all: readonly Host[],
): Promise<Record<string, Record<string, string>>> {
  const parts = await Promise.all(all.filter((h) => h.running).map((h) => h.view()));
  return Object.assign({}, ...parts);
}

/** True when each of `observers` sees exactly `names` alive (itself included). */
export function allAlive(
  v: Record<string, Record<string, string>>,
  observers: readonly string[],
  names: readonly string[],
): boolean {
  const want = [...names].sort().join(",");
  return observers.every((o) => {
    const table = v[o];
    if (!table) return false;
    const alive = Object.entries(table).filter(([, s]) => s.startsWith("alive/")).map(([n]) => n);
    return alive.sort().join(",") === want;
  });
}
