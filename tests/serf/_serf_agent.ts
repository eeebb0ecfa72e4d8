/**
 * Drives real `serf` 0.8 agents (Debian's package) for the interop tests: spawns `serf agent`
 * with its log captured (ERR/WARN lines reveal a non-conforming shoal member), and runs the
 * `serf` CLI against its RPC address.
 *
 * @module
 */

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { createServer } from "node:net";

/** `serf version`'s first line, or undefined when serf is not on PATH. */
export function serfVersion(): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile("serf", ["version"], { timeout: 10_000 }, (err, stdout) => {
      resolve(err ? undefined : stdout.split("\n")[0]);
    });
  });
}

/** A port free for both TCP and UDP on 127.0.0.1 (serf binds both). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once("error", reject);
      srv.listen(0, "127.0.0.1", () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const s = createSocket("udp4");
      s.once("error", () => {
        s.close();
        resolve(false);
      });
      s.bind(port, "127.0.0.1", () => s.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
  throw new Error("no free port found");
}

/** Options of {@linkcode SerfAgent.start}. */
export interface SerfAgentOptions {
  /** Node name. */
  readonly name: string;
  /** Addresses to join at start. */
  readonly join?: readonly string[];
  /** Tags. */
  readonly tags?: Readonly<Record<string, string>>;
  /** Extra `serf agent` arguments. */
  readonly args?: readonly string[];
}

/** A member as `serf members -format=json` lists it. */
export interface SerfCliMember {
  /** Name. */
  readonly name: string;
  /** "host:port". */
  readonly addr: string;
  /** Tags. */
  readonly tags: Record<string, string>;
  /** alive, leaving, left, failed. */
  readonly status: string;
  /** Delegate protocol versions. */
  readonly protocol: { readonly min: number; readonly max: number; readonly version: number };
}

const running = new Set<SerfAgent>();

/** A running `serf agent`. */
export class SerfAgent {
  /** Node name. */
  readonly name: string;
  /** Gossip port. */
  readonly port: number;
  /** RPC port. */
  readonly rpcPort: number;
  readonly #child: ChildProcess;
  readonly #log: string[] = [];
  #exited = false;

  private constructor(name: string, port: number, rpcPort: number, child: ChildProcess) {
    this.name = name;
    this.port = port;
    this.rpcPort = rpcPort;
    this.#child = child;
    let partial = "";
    const take = (d: Buffer | string) => {
      const lines = (partial + String(d)).split("\n");
      partial = lines.pop() ?? "";
      this.#log.push(...lines);
    };
    child.stdout?.on("data", take);
    child.stderr?.on("data", take);
    child.once("exit", () => (this.#exited = true));
  }

  /** Start an agent on free ports and wait until its RPC answers. */
  static async start(o: SerfAgentOptions): Promise<SerfAgent> {
    const port = await freePort();
    const rpcPort = await freePort();
    const args = [
      "agent",
      `-node=${o.name}`,
      `-bind=127.0.0.1:${port}`,
      `-rpc-addr=127.0.0.1:${rpcPort}`,
      "-log-level=debug",
      ...Object.entries(o.tags ?? {}).flatMap(([k, v]) => ["-tag", `${k}=${v}`]),
      ...(o.join ?? []).map((j) => `-join=${j}`),
      ...(o.args ?? []),
    ];
    const child = spawn("serf", args, { stdio: ["ignore", "pipe", "pipe"] });
    const agent = new SerfAgent(o.name, port, rpcPort, child);
    running.add(agent);
    const end = Date.now() + 15_000;
    while (Date.now() < end) {
      if (agent.#exited) throw new Error(`serf agent ${o.name} exited:\n${agent.log.join("\n")}`);
      try {
        await agent.cli(["members"]);
        return agent;
      } catch {
        await sleep(100);
      }
    }
    agent.kill();
    throw new Error(`serf agent ${o.name} did not start`);
  }

  /** "127.0.0.1:port". */
  get hostPort(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Everything it logged. */
  get log(): readonly string[] {
    return this.#log;
  }

  /** Its ERR and WARN lines. */
  problems(): string[] {
    return this.#log.filter((l) => /\[(ERR|WARN)\]/.test(l));
  }

  /** Run `serf <args> -rpc-addr=…` and return stdout. */
  cli(args: readonly string[], timeoutMs = 20_000): Promise<string> {
    const [cmd, ...rest] = args;
    return new Promise((resolve, reject) => {
      execFile(
        "serf",
        [cmd, `-rpc-addr=127.0.0.1:${this.rpcPort}`, ...rest],
        { timeout: timeoutMs },
        (err, stdout, stderr) =>
          err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
      );
    });
  }

  /** `serf members -format=json`. */
  async members(): Promise<SerfCliMember[]> {
    const out = JSON.parse(await this.cli(["members", "-format=json"]));
    return out.members as SerfCliMember[];
  }

  /**
   * Leave gracefully (SIGINT, as Ctrl-C: the agent leaves, then exits). Either way (this or
   * `serf leave` over RPC) the agent may log a WARN of its own as it quits ("Serf shutdown
   * detected"): less often this way.
   */
  interrupt(): void {
    if (!this.#exited) this.#child.kill("SIGINT");
  }

  /** Kill it (SIGKILL: a failure, not a leave). */
  kill(): void {
    running.delete(this);
    if (!this.#exited) this.#child.kill("SIGKILL");
  }

  /** Wait until it exited (bounded). */
  async exited(ms = 10_000): Promise<void> {
    const end = Date.now() + ms;
    while (!this.#exited && Date.now() < end) await sleep(50);
  }
}

/** Kill every agent still running. */
export async function stopAllSerfAgents(): Promise<void> {
  const all = [...running];
  for (const a of all) a.kill();
  await Promise.all(all.map((a) => a.exited()));
}

/** Sleep `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Poll `pred` every 50 ms until true, or throw after `ms`; the error includes what `state`
 * returns then (what was seen instead).
 */
export async function until(
  pred: () => boolean | Promise<boolean>,
  what: string,
  ms = 20_000,
  state?: () => unknown,
): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return;
    await sleep(50);
  }
  let seen = "";
  try {
    if (state) seen = `; seen: ${JSON.stringify(await state())}`;
  } catch (error) {
    seen = `; state unavailable: ${error}`;
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${seen}`);
}
