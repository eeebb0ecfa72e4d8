/** Nothing the library owns keeps the process alive after close(). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { runtimeName } from "../../mod.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const fixture = "tests/node/fixtures/lifecycle.ts";

function run(mode: string): Promise<{ code: number | null; ms: number; out: string }> {
  const rt = runtimeName() === "bun" ? "bun" : "deno";
  const args = rt === "deno" ? ["run", "-A", fixture, mode] : [fixture, mode];
  const start = Date.now();
  return new Promise((resolve) => {
    const child = execFile(
      `${root}node_modules/.bin/${rt}`,
      args,
      { cwd: root, timeout: 15_000 },
      (err, stdout) => {
        resolve({ code: err ? (child.exitCode ?? -1) : 0, ms: Date.now() - start, out: stdout });
      },
    );
  });
}

test(
  `${runtimeName()}: a process exits by itself once its nodes are closed`,
  { timeout: 30_000 },
  async () => {
    const r = await run("close");
    assert.equal(r.code, 0);
    assert.match(r.out, /main done/);
    assert.ok(r.ms < 10_000, `took ${r.ms} ms`);
  },
);

test(`${runtimeName()}: an open node with keepAlive: false does not hold the process`, {
  timeout: 30_000,
}, async () => {
  const r = await run("detached");
  assert.equal(r.code, 0);
  assert.ok(r.ms < 10_000, `took ${r.ms} ms`);
});
