/**
 * Spawns and drives the Go interop peer (tests/interop/peer/main.go, a real memberlist 0.2.2
 * node) from tests: JSON events from its stdout, commands on its stdin, memberlist's log from
 * its stderr (ERR/WARN lines reveal a non-conforming shoal node).
 *
 * {@linkcode goPeerBinary} builds it once per process with build_peer.sh. Outside CI a build
 * failure (no apt, no Go) makes the interop tests skip with the reason; in CI
 * (`process.env.CI`) it fails them.
 *
 * @module
 */

import { type ChildProcess, execFile, spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import type { PeerAddress } from "../../src/core/address.ts";

/** A node as the Go peer reports it. */
export interface GoNode {
  /** Member name. */
  readonly name: string;
  /** IP text. */
  readonly addr: string;
  /** Port. */
  readonly port: number;
  /** Metadata as text. */
  readonly meta: string;
  /** "alive" | "suspect" | "dead" | "left" (empty when unknown). */
  readonly state: string;
  /** Incarnation in Go's table. */
  readonly incarnation: number;
}

/** One JSON line from the Go peer. */
export interface GoEvent {
  /** "ready" | "join" | "leave" | "update" | "user" | "members" | "result" | "fatal". */
  readonly event: string;
  /** For join/leave/update. */
  readonly node?: GoNode;
  /** For members. */
  readonly members?: GoNode[];
  /** For user messages. */
  readonly text?: string;
  /** For results. */
  readonly command?: string;
  /** For results. */
  readonly ok?: boolean;
  /** For results, ready and fatal. */
  readonly error?: string;
  /** For ready. */
  readonly port?: number;
  /** For ready. */
  readonly joined?: number;
}

/** Options of {@linkcode GoPeer.start}: the peer's flags (durations in ms). */
export interface GoPeerOptions {
  /** Node name. */
  readonly name: string;
  /** Bind address (default 127.0.0.1). */
  readonly bind?: string;
  /** Port, UDP and TCP (default 0: the OS picks). */
  readonly port?: number;
  /** Addresses to join at start ("host:port"). */
  readonly join?: readonly string[];
  /** Base64 keys, the first is primary. */
  readonly keys?: readonly string[];
  /** EnableCompression (default true, Go's default). */
  readonly compress?: boolean;
  /** GossipVerifyIncoming (default true). */
  readonly verifyIncoming?: boolean;
  /** GossipVerifyOutgoing (default true). */
  readonly verifyOutgoing?: boolean;
  /** ProtocolVersion (default 2; 1 makes Go encrypt with version 0). */
  readonly protocol?: number;
  /** Base config: "lan" | "wan" | "local" (default local). */
  readonly preset?: string;
  /** ProbeInterval in ms. */
  readonly probeInterval?: number;
  /** ProbeTimeout in ms. */
  readonly probeTimeout?: number;
  /** GossipInterval in ms. */
  readonly gossipInterval?: number;
  /** PushPullInterval in ms (negative: off). */
  readonly pushPullInterval?: number;
  /** TCPTimeout in ms. */
  readonly tcpTimeout?: number;
  /** SuspicionMult. */
  readonly suspicionMult?: number;
  /** Metadata text. */
  readonly meta?: string;
}

const BUILD_SCRIPT = fileURLToPath(new URL("./build_peer.sh", import.meta.url));
const BINARY = fileURLToPath(new URL("../../.cache/interop/peer", import.meta.url));

/** The peer binary, or why the interop tests must be skipped. */
export interface GoPeerBinary {
  /** Path of the built binary, when the build worked. */
  readonly path?: string;
  /** The skip reason, when it did not (never set in CI: the build failure throws there). */
  readonly skip?: string;
}

let built: Promise<GoPeerBinary> | undefined;

/**
 * Build the Go peer (once per process). In CI a failure rejects; elsewhere it resolves with
 * a skip reason.
 */
export function goPeerBinary(): Promise<GoPeerBinary> {
  built ??= new Promise((resolve, reject) => {
    execFile("bash", [BUILD_SCRIPT], { timeout: 600_000 }, (error, _stdout, stderr) => {
      if (!error) return resolve({ path: BINARY });
      const why = `Go interop peer could not be built (${String(stderr || error).trim()})`;
      if (process.env.CI) reject(new Error(`${why}; interop tests must run in CI`));
      else resolve({ skip: `${why}: skipping interop tests outside CI` });
    });
  });
  return built;
}

const running = new Set<GoPeer>();

/** Kill every Go peer still running (call from an `after` hook). */
export async function stopAllGoPeers(): Promise<void> {
  await Promise.all([...running].map((p) => p.kill()));
}

/** A running Go memberlist node. */
export class GoPeer {
  /** Every JSON event received, in order. */
  readonly events: GoEvent[] = [];
  /** memberlist's log lines (stderr). */
  readonly log: string[] = [];
  /** The node's name. */
  readonly name: string;
  #address: PeerAddress = { host: "127.0.0.1", port: 0 };
  readonly #child: ChildProcess;
  readonly #waiters = new Set<() => void>();
  #exited: Promise<void>;
  #exitCode: number | null = null;

  private constructor(binary: string, options: GoPeerOptions) {
    this.name = options.name;
    this.#child = spawn(binary, flags(options), { stdio: ["pipe", "pipe", "pipe"] });
    running.add(this);
    lines(this.#child.stdout!, (line) => {
      try {
        this.events.push(JSON.parse(line) as GoEvent);
      } catch {
        this.log.push(`(unparsed stdout) ${line}`);
      }
      this.#wake();
    });
    lines(this.#child.stderr!, (line) => {
      this.log.push(line);
      this.#wake();
    });
    this.#exited = new Promise((resolve) => {
      this.#child.on("exit", (code) => {
        this.#exitCode = code ?? -1;
        running.delete(this);
        this.#wake();
        resolve();
      });
    });
  }

  /** Start a Go node and wait until it is ready (and has joined, if asked to). */
  static async start(binary: string, options: GoPeerOptions): Promise<GoPeer> {
    const peer = new GoPeer(binary, options);
    const ready = await peer.waitFor((e) => e.event === "ready" || e.event === "fatal", 15_000);
    if (ready.event === "fatal") {
      await peer.kill();
      throw new Error(`Go peer ${options.name} failed to start: ${ready.error}`);
    }
    peer.#address = { host: options.bind ?? "127.0.0.1", port: ready.port! };
    return peer;
  }

  /** Where the node listens (UDP and TCP). */
  get address(): PeerAddress {
    return this.#address;
  }

  /** "host:port" of the node, for join lists. */
  get hostPort(): string {
    return `${this.#address.host}:${this.#address.port}`;
  }

  /** True while the process runs. */
  get running(): boolean {
    return this.#exitCode === null;
  }

  /** memberlist's ERR and WARN log lines (a conforming cluster has none). */
  problems(): string[] {
    return this.log.filter((l) => /\[(ERR|ERROR|WARN)\]/.test(l));
  }

  /** Send one command line and wait for its result. */
  async command(line: string, timeoutMs = 10_000): Promise<GoEvent> {
    const cmd = line.split(" ", 1)[0];
    const seen = this.events.length;
    this.#child.stdin!.write(`${line}\n`);
    return await this.waitFor(
      (e, i) => i >= seen && e.event === "result" && e.command === cmd,
      timeoutMs,
    );
  }

  /** Every node in Go's table, any state. */
  async members(): Promise<GoNode[]> {
    const seen = this.events.length;
    this.#child.stdin!.write("members\n");
    const e = await this.waitFor((ev, i) => i >= seen && ev.event === "members", 10_000);
    return e.members ?? [];
  }

  /** Poll Go's table until `pred` holds for it. */
  async waitForMembers(
    pred: (members: GoNode[]) => boolean,
    what: string,
    timeoutMs = 10_000,
  ): Promise<GoNode[]> {
    const until = performance.now() + timeoutMs;
    let last: GoNode[] = [];
    while (performance.now() < until) {
      last = await this.members();
      if (pred(last)) return last;
      await sleep(100);
    }
    throw new Error(
      `${this.name}: timed out waiting for ${what}; members: ${JSON.stringify(last)}`,
    );
  }

  /** The first event (at index ≥ 0) matching `pred`, waiting up to `timeoutMs`. */
  waitFor(pred: (e: GoEvent, index: number) => boolean, timeoutMs: number): Promise<GoEvent> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const i = this.events.findIndex(pred);
        if (i >= 0) {
          done();
          resolve(this.events[i]);
          return true;
        }
        if (this.#exitCode !== null) {
          done();
          reject(new Error(`Go peer ${this.name} exited (${this.#exitCode}):\n${this.tail()}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`Go peer ${this.name}: timed out after ${timeoutMs} ms\n${this.tail()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
      };
      const wake = () => void check();
      if (!check()) this.#waiters.add(wake);
    });
  }

  /** The last lines of output, for error messages. */
  tail(n = 20): string {
    return [...this.log.slice(-n), ...this.events.slice(-5).map((e) => JSON.stringify(e))].join(
      "\n",
    );
  }

  /** Stop without leaving (as a crash looks to the others). Idempotent. */
  async kill(): Promise<void> {
    if (this.#exitCode === null) this.#child.kill("SIGKILL");
    await this.#exited;
  }

  /** Shut down cleanly without leaving. */
  async quit(): Promise<void> {
    if (this.#exitCode === null) this.#child.stdin!.write("quit\n");
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 5000);
    await this.#exited;
    clearTimeout(timer);
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }
}

function flags(o: GoPeerOptions): string[] {
  const f = ["-name", o.name, "-bind", o.bind ?? "127.0.0.1", "-port", String(o.port ?? 0)];
  const ms = (v: number) => `${v}ms`;
  if (o.join?.length) f.push("-join", o.join.join(","));
  if (o.keys?.length) f.push("-keys", o.keys.join(","));
  if (o.compress === false) f.push("-compress=false");
  if (o.verifyIncoming === false) f.push("-verify-incoming=false");
  if (o.verifyOutgoing === false) f.push("-verify-outgoing=false");
  if (o.protocol !== undefined) f.push("-protocol", String(o.protocol));
  if (o.preset) f.push("-preset", o.preset);
  if (o.probeInterval) f.push("-probe-interval", ms(o.probeInterval));
  if (o.probeTimeout) f.push("-probe-timeout", ms(o.probeTimeout));
  if (o.gossipInterval) f.push("-gossip-interval", ms(o.gossipInterval));
  if (o.pushPullInterval) f.push("-push-pull-interval", ms(o.pushPullInterval));
  if (o.tcpTimeout) f.push("-tcp-timeout", ms(o.tcpTimeout));
  if (o.suspicionMult) f.push("-suspicion-mult", String(o.suspicionMult));
  if (o.meta !== undefined) f.push("-meta", o.meta);
  return f;
}

function lines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let pending = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl).trimEnd();
      pending = pending.slice(nl + 1);
      if (line) onLine(line);
    }
  });
}

/** A promise that resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
