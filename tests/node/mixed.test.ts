/**
 * One cluster across runtimes and processes: Deno nodes in one process, Bun nodes in another.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
const fixture = "tests/node/fixtures/member_process.ts";
const bin = (name: string) => `${root}node_modules/.bin/${name}`;

function start(runtime: "deno" | "bun", args: string[]): ChildProcess {
  const argv = runtime === "deno" ? ["run", "-A", fixture, ...args] : [fixture, ...args];
  return spawn(bin(runtime), argv, { cwd: root, stdio: ["pipe", "pipe", "inherit"] });
}

/** Resolve with the first JSON line from `child` that has `key`. */
function line(
  child: ChildProcess,
  key: string,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(
      () => reject(new Error(`no "${key}" line in ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      buf += chunk.toString();
      for (const text of buf.split("\n").slice(0, -1)) {
        try {
          const obj = JSON.parse(text);
          if (key in obj) {
            clearTimeout(timer);
            child.stdout!.off("data", onData);
            resolve(obj);
            return;
          }
        } catch { /* not JSON */ }
      }
    };
    child.stdout!.on("data", onData);
    child.on("exit", (code) => reject(new Error(`process exited with ${code} before "${key}"`)));
  });
}

test(
  "Deno nodes and Bun nodes in separate processes form one view",
  { timeout: 60_000 },
  async () => {
    const deno = start("deno", ["d", "3", "6"]);
    const children = [deno];
    try {
      const { port } = await line(deno, "port", 30_000);
      const bun = start("bun", ["b", "3", "6", `127.0.0.1:${port}`]);
      children.push(bun);
      const [a, b] = await Promise.all([line(deno, "view", 30_000), line(bun, "view", 30_000)]);
      const expected = ["b0", "b1", "b2", "d0", "d1", "d2"];
      assert.deepEqual(a.view, expected);
      assert.deepEqual(b.view, expected);
      assert.equal(a.same, true);
      assert.equal(b.same, true);
    } finally {
      for (const c of children) {
        c.stdin!.write("quit\n");
        c.stdin!.end();
      }
      await Promise.all(
        children.map((c) =>
          c.exitCode !== null ? Promise.resolve() : new Promise((r) => c.on("exit", r))
        ),
      );
    }
  },
);
