/**
 * The one-file agent: `npm run compile` (`bun build --compile`) makes a single `shoal`
 * executable; it prints the package version and, run with no runtime on PATH, joins a node
 * started here with `createNode`, both see each other alive, and SIGTERM makes it leave
 * gracefully (the node sees it as left, not dead). `npm run compile:deno` (`deno compile`)
 * is built too; it needs the `denort` runtime, which Deno downloads: where that download
 * fails (no network) its tests are skipped with the reason, any other failure fails them.
 *
 * The build commands are read from package.json's scripts, so the tests build what the
 * scripts build (into a temporary directory instead of dist/).
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { createNode, type MembershipEvent, type ShoalNode } from "../../mod.ts";
import { bin, eventually, FAST_TUNE, root, ShoalProcess } from "../agent/helpers.ts";
import { FAST } from "../node/helpers.ts";
import { runChild, type RunResult } from "./_run.ts";

/** Longest a build may take (bun: about 0.5 s here; deno: about 4 s until the download). */
const BUILD_TIMEOUT_MS = 120_000;

interface Built {
  /** The command line that ran. */
  readonly command: string;
  readonly code: number | null;
  readonly stderr: string;
  readonly ms: number;
  readonly output: string;
}

const pkg = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as {
  version: string;
  scripts: Record<string, string>;
};
const denoJson = JSON.parse(await readFile(join(root, "deno.json"), "utf8")) as {
  version: string;
};
const dir = await mkdtemp(join(tmpdir(), "shoal-compiled-"));

/** Run package.json's `script` with its `dist/...` output replaced by `output`. */
async function build(script: string, distPath: string, output: string): Promise<Built> {
  const text = pkg.scripts[script] ?? "";
  const words = text.split(/\s+/).filter(Boolean);
  const at = words.indexOf(distPath);
  if (at < 0 || !["bun", "deno"].includes(words[0])) {
    return {
      command: text,
      code: -1,
      stderr: `script ${script} ("${text}") does not write ${distPath}`,
      ms: 0,
      output,
    };
  }
  words[at] = output;
  const started = performance.now();
  const child = spawn(bin(words[0]), words.slice(1), {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
  });
  let stderr = "";
  child.stdout!.on("data", (c: Buffer) => (stderr += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => {
    stderr += `\n(killed after ${BUILD_TIMEOUT_MS} ms)`;
    child.kill("SIGKILL");
  }, BUILD_TIMEOUT_MS);
  try {
    const code = await new Promise<number | null>((resolve) => {
      child.on("error", (error) => {
        stderr += String(error);
        resolve(-1);
      });
      child.on("close", (code) => resolve(code));
    });
    return { command: words.join(" "), code, stderr, ms: performance.now() - started, output };
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
}

/** Run a compiled binary to completion, with no runtime on PATH. */
function run(binary: string, args: string[]): Promise<RunResult> {
  return runChild(binary, args, {
    cwd: dir,
    env: { ...process.env, PATH: "/usr/bin:/bin", NO_COLOR: "1" },
  });
}

const bunBuilt = await build("compile", "dist/shoal", join(dir, "shoal"));
const denoBuilt = await build("compile:deno", "dist/shoal-deno", join(dir, "shoal-deno"));

/** Why the Deno build is skipped: its runtime could not be downloaded (and only that). */
function denortUnavailable(built: Built): string | false {
  if (built.code === 0) return false;
  const download = /Download[^\n]*denort|denort[^\n]*\.zip/.test(built.stderr);
  const network =
    /dns error|failed to lookup address|error sending request|Connect|connection refused|timed out/i
      .test(built.stderr);
  if (!download || !network) return false;
  const cause = built.stderr.match(/error sending request[^\n]*/)?.[0] ?? "network error";
  return `deno compile could not download its denort runtime: ${cause}`;
}
const denoSkip = denortUnavailable(denoBuilt);
if (denoSkip) console.log(`skipping the deno compile tests: ${denoSkip}`);

const sizeMiB = async (path: string) => ((await stat(path)).size / 2 ** 20).toFixed(1);

/** The agent scenario, run against one compiled binary. */
function agentScenario(built: Built, runtime: "bun" | "deno") {
  const binary = built.output;
  test(`the ${runtime} binary's agent joins a createNode node and leaves on SIGTERM`, async () => {
    assert.equal(built.code, 0, `not built: ${built.command}`);
    const events: MembershipEvent[] = [];
    const name = `compiled-${runtime}`;
    let node: ShoalNode | undefined;
    let agent: ShoalProcess | undefined;
    try {
      node = await createNode({ name: "embedded", bind: "127.0.0.1:0", config: FAST });
      node.onEvent((event) => events.push(event));
      const args = [
        "agent",
        "--name",
        name,
        "--bind",
        "127.0.0.1:0",
        "--join",
        `127.0.0.1:${node.address.port}`,
        "--http",
        "127.0.0.1:0",
        "--json",
        ...FAST_TUNE,
      ];
      // No runtime on PATH: the executable needs nothing but itself.
      agent = new ShoalProcess(runtime, name, args, { PATH: "/usr/bin:/bin" }, [binary, args]);
      const port = await agent.udpPort();
      const http = await agent.httpAddr();

      const seen = await eventually(
        () => node!.members("alive").find((m) => m.name === name),
        20_000,
        `${name} alive at the node`,
      );
      assert.equal(seen.port, port);
      assert.equal(seen.address, "127.0.0.1");

      // The other way: the agent's HTTP API, and the binary's own `members` client.
      const listed = await eventually(
        async () => {
          const res = await fetch(`http://${http}/v1/members`);
          const body = (await res.json()) as { members: { name: string; state: string }[] };
          const states = Object.fromEntries(body.members.map((m) => [m.name, m.state]));
          return states.embedded === "alive" && states[name] === "alive" ? states : undefined;
        },
        20_000,
        "both alive in the agent's /v1/members",
      );
      assert.deepEqual(listed, { embedded: "alive", [name]: "alive" });
      const client = await run(binary, ["members", "--http", http, "--json"]);
      assert.equal(client.code, 0, client.stderr);
      const fromClient = (JSON.parse(client.stdout) as { members: { name: string }[] }).members
        .map((m) => m.name).sort();
      assert.deepEqual(fromClient, ["embedded", name].sort());

      const code = await agent.stop("SIGTERM", 15_000);
      assert.equal(code, 0, agent.stderr);
      assert.match(agent.stderr, /SIGTERM: leaving the cluster/);
      assert.match(agent.stderr, /left; bye/);
      await eventually(
        () => node!.members().find((m) => m.name === name)?.state === "left" || undefined,
        10_000,
        `${name} seen as left`,
      );
      assert.ok(events.some((e) => e.type === "leave" && e.member.name === name));
      assert.ok(!events.some((e) => e.type === "dead" && e.member.name === name));
    } finally {
      await agent?.stop("SIGKILL");
      await node?.close();
    }
  });
}

describe("one-file agent", { timeout: 120_000 }, () => {
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe("one-file agent: bun build --compile", { timeout: 120_000 }, () => {
    const binary = bunBuilt.output;

    test("npm run compile builds one executable", async () => {
      assert.equal(bunBuilt.code, 0, `${bunBuilt.command}\n${bunBuilt.stderr}`);
      console.log(
        `${bunBuilt.command}: ${Math.round(bunBuilt.ms)} ms, ${await sizeMiB(binary)} MiB`,
      );
    });

    test("shoal --version prints the package version", async () => {
      assert.equal(pkg.version, denoJson.version, "package.json and deno.json disagree");
      const r = await run(binary, ["--version"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `shoal ${pkg.version}\n`);
    });

    agentScenario(bunBuilt, "bun");
  });

  describe("one-file agent: deno compile", { timeout: 120_000, skip: denoSkip }, () => {
    const binary = denoBuilt.output;

    test("npm run compile:deno builds one executable", async () => {
      assert.equal(denoBuilt.code, 0, `${denoBuilt.command}\n${denoBuilt.stderr}`);
      console.log(
        `${denoBuilt.command}: ${Math.round(denoBuilt.ms)} ms, ${await sizeMiB(binary)} MiB`,
      );
    });

    test("shoal --version prints the package version", async () => {
      const r = await run(binary, ["--version"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `shoal ${pkg.version}\n`);
    });

    agentScenario(denoBuilt, "deno");
  });
});
