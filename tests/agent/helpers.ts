/**
 * Helpers for the agent tests: run `shoal` commands and agents as real processes under Deno
 * and Bun, and wait for their output.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export const root: string = fileURLToPath(new URL("../../", import.meta.url));
export const CLI = "src/cli/main.ts";
export type Runtime = "deno" | "bun";
export const bin = (name: string): string => `${root}node_modules/.bin/${name}`;

/** Fast protocol timings for agents under test. */
export const FAST_TUNE: string[] = [
  "--tune",
  "probeInterval=200",
  "--tune",
  "probeTimeout=100",
  "--tune",
  "gossipInterval=50",
  "--tune",
  "suspicionMult=2",
  "--tune",
  "joinRetryMax=1000",
];

/** The argv that runs the CLI under `runtime`. */
export function cliArgv(runtime: Runtime, args: string[]): [string, string[]] {
  return runtime === "deno"
    ? [bin("deno"), ["run", "-A", CLI, ...args]]
    : [bin("bun"), [CLI, ...args]];
}

/** Result of a finished command. */
export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run one `shoal` command to completion (killed after `timeoutMs`). */
export function runCli(
  runtime: Runtime,
  args: string[],
  timeoutMs = 30_000,
  env: Record<string, string> = {},
): Promise<RunResult> {
  const [cmd, argv] = cliArgv(runtime, args);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1", ...env },
    });
    let stdout = "", stderr = "";
    child.stdout!.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`shoal ${args.join(" ")} did not finish in ${timeoutMs} ms`));
    }, timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A long-running `shoal` process (an agent, or `monitor`). */
export class ShoalProcess {
  readonly child: ChildProcess;
  readonly name: string;
  stdout = "";
  stderr = "";
  #waiters: (() => void)[] = [];
  exited: Promise<number | null>;

  constructor(
    runtime: Runtime,
    name: string,
    args: string[],
    env: Record<string, string> = {},
    command: [string, string[]] = cliArgv(runtime, args),
  ) {
    this.name = name;
    const [cmd, argv] = command;
    this.child = spawn(cmd, argv, {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1", ...env },
    });
    const wake = () => {
      for (const w of this.#waiters.splice(0)) w();
    };
    this.child.stdout!.on("data", (c: Buffer) => {
      this.stdout += c.toString();
      wake();
    });
    this.child.stderr!.on("data", (c: Buffer) => {
      this.stderr += c.toString();
      wake();
    });
    this.exited = new Promise((resolve) => {
      this.child.on("close", (code) => {
        resolve(code);
        wake();
      });
    });
  }

  /** Wait until `pattern` matches stderr or stdout; returns the match. */
  async waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const m = this.stderr.match(pattern) ?? this.stdout.match(pattern);
      if (m) return m;
      if (this.child.exitCode !== null || Date.now() > end) {
        throw new Error(
          `${this.name}: no ${pattern} (exit ${this.child.exitCode}); stderr:\n${this.stderr}`,
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, Math.min(200, end - Date.now())));
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** The UDP port it bound (from its startup line). */
  async udpPort(): Promise<number> {
    return Number((await this.waitFor(/listening on [^ ]+:(\d+) \(udp/))[1]);
  }

  /** The HTTP address it serves (from its startup line). */
  async httpAddr(): Promise<string> {
    return (await this.waitFor(/dashboard on http:\/\/([^/]+)\//))[1];
  }

  /** Send `signal` and wait for the exit code (SIGKILL after `timeoutMs`). */
  async stop(
    signal: "SIGTERM" | "SIGINT" | "SIGKILL" = "SIGTERM",
    timeoutMs = 10_000,
  ): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      // process.kill, not child.kill: Deno's child_process then reports the signal instead
      // of the exit status the child chose.
      process.kill(this.child.pid!, signal);
      const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
      await this.exited;
      clearTimeout(timer);
    }
    return this.exited;
  }
}

/** Poll `check` every 100 ms until it returns a value (not undefined) or time runs out. */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last}` : ""}`);
}

/** A running `shoal agent --name NAME ...` process. */
export class AgentProcess extends ShoalProcess {
  constructor(runtime: Runtime, name: string, args: string[], env: Record<string, string> = {}) {
    super(runtime, name, ["agent", "--name", name, ...args], env);
  }
}
