/**
 * The machine a benchmark ran on: CPU count and model, memory, kernel and runtime versions,
 * for the reports in bench/results and docs/performance.md.
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import os from "node:os";

/** What the results were measured on. */
export interface Machine {
  readonly date: string;
  readonly nproc: number;
  readonly cpu: string;
  readonly memory: string;
  readonly kernel: string;
  readonly deno?: string;
  readonly bun?: string;
  readonly node?: string;
  readonly go?: string;
}

function version(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
      .split("\n")[0].trim();
  } catch {
    return undefined;
  }
}

/** Describe this machine (runtime binaries from node_modules/.bin when present). */
export function machine(): Machine {
  const bin = new URL("../node_modules/.bin/", import.meta.url).pathname;
  const memory = `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM (${
    (os.freemem() / 2 ** 30).toFixed(1)
  } GiB free at start)`;
  return {
    date: new Date().toISOString(),
    nproc: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? "unknown",
    memory,
    kernel: `${os.type()} ${os.release()} ${os.arch()}`,
    deno: version(`${bin}deno`, ["--version"]),
    bun: version(`${bin}bun`, ["--version"]),
    node: version("node", ["--version"]),
    go: version("go", ["version"]),
  };
}
