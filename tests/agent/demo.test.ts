/**
 * `deno task demo` (examples/demo.ts) runs, serves the dashboard, takes members down and
 * back up, and stops cleanly by itself after --duration.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { type Runtime, ShoalProcess } from "./helpers.ts";

const runtime: Runtime = "Bun" in globalThis ? "bun" : "deno";
const argv: [string, string[]] = [
  `node_modules/.bin/${runtime}`,
  [
    ...(runtime === "deno" ? ["run", "-A"] : []),
    "examples/demo.ts",
    "--duration",
    "6",
    "--every",
    "1.5",
    "--http",
    "127.0.0.1:0",
  ],
];
let demo: ShoalProcess | undefined;

after(async () => {
  await demo?.stop("SIGKILL");
});

test(`the demo under ${runtime}: dashboard, kill, leave, restart, clean stop`, {
  timeout: 60_000,
}, async () => {
  demo = new ShoalProcess(runtime, "demo", [], {}, argv);
  const url = (await demo.waitFor(/dashboard\s+(http:\/\/\S+\/)/))[1];
  const page = await fetch(url);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<title>shoal<\/title>/);
  const members = await (await fetch(`${url}v1/members`)).json() as { members: unknown[] };
  assert.equal(members.members.length, 5);
  await demo.waitFor(/killing node-1/);
  await demo.waitFor(/restarting node-1/);
  await demo.waitFor(/node-2 leaves gracefully/);
  assert.equal(await demo.exited, 0, demo.stderr);
  assert.match(demo.stdout, /6s are up: every member leaves/);
  assert.match(demo.stdout, /stopped\n$/);
});
