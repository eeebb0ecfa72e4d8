/** Run a child process to completion, collecting its output (killed after 30 s). */
import { spawn } from "node:child_process";
import type { Buffer } from "node:buffer";

/** How a child ended. */
export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run `cmd args` in `cwd` with `env`; resolves when it exits, rejects if it cannot start. */
export function runChild(
  cmd: string,
  args: readonly string[],
  options: { cwd: string; env: Record<string, string | undefined> },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...args], {
      cwd: options.cwd,
      stdio: ["ignore", "pipe", "pipe"],
      env: options.env,
    });
    let stdout = "", stderr = "";
    child.stdout!.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
