/**
 * A benchmark driver process: one child speaking the drivers' line protocol (JSON events on
 * stdout, commands on stdin; see bench/cluster/run.ts).
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A driver process and its JSON lines. */
export class Driver {
  readonly child: ChildProcess;
  /** Every JSON line it printed, in order. */
  readonly events: Record<string, unknown>[] = [];
  /** Its last 200 stderr lines, and stdout lines that were not JSON. */
  readonly stderr: string[] = [];
  exited = false;
  #wake: (() => void) | undefined;

  /** Spawn `cmd args` in `cwd`. */
  constructor(cmd: string, args: string[], cwd: string) {
    this.child = spawn(cmd, args, { cwd, stdio: ["pipe", "pipe", "pipe"] });
    let pending = "";
    this.child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        if (!line) continue;
        try {
          this.events.push(JSON.parse(line));
        } catch {
          this.#keep([`(stdout) ${line}`]);
        }
        this.#wake?.();
      }
    });
    this.child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
      this.#keep(chunk.split("\n").filter(Boolean));
    });
    this.child.stdin!.on("error", () => {});
    this.child.on("exit", () => {
      this.exited = true;
      this.#wake?.();
    });
  }

  #keep(lines: string[]): void {
    this.stderr.push(...lines);
    if (this.stderr.length > 200) this.stderr.splice(0, this.stderr.length - 200);
  }

  /** The process id. */
  get pid(): number {
    return this.child.pid!;
  }

  /** Send one command line. */
  send(line: string): void {
    if (!this.exited) this.child.stdin!.write(`${line}\n`);
  }

  /** The next event of `type` at index ≥ `from`, or undefined after `timeoutMs`. */
  async next(
    type: string,
    from: number,
    timeoutMs: number,
  ): Promise<Record<string, unknown> | undefined> {
    const until = performance.now() + timeoutMs;
    for (;;) {
      const e = this.events.find((e, k) => k >= from && e.event === type);
      if (e) return e;
      if (this.exited || performance.now() > until) return undefined;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, until - performance.now()));
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  /** Ask it to quit; SIGKILL after 5 s; wait at most 5 s more for it to go. */
  async stop(): Promise<void> {
    this.send("quit");
    const until = performance.now() + 5000;
    while (!this.exited && performance.now() < until) await sleep(50);
    if (!this.exited) this.child.kill("SIGKILL");
    const hard = performance.now() + 5000;
    while (!this.exited && performance.now() < hard) await sleep(20);
  }
}
