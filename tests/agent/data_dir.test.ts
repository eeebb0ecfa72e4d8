/**
 * `--data-dir`: an agent remembers its name, incarnation and peers, so after a crash it
 * rejoins without `--join` and outranks its previous life.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Agent, startAgent } from "../../src/agent/agent.ts";
import { FAST } from "../node/helpers.ts";
import { AgentProcess, eventually, FAST_TUNE, ShoalProcess } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "shoal-data-"));
const agents: Agent[] = [];
const procs: ShoalProcess[] = [];

after(async () => {
  await Promise.all(agents.map((a) => a.shutdown()));
  await Promise.all(procs.map((p) => p.stop("SIGKILL")));
  rmSync(dir, { recursive: true, force: true });
});

test("a crashed agent with a data dir rejoins its peers, with a higher incarnation", {
  timeout: 60_000,
}, async () => {
  const seed = await startAgent({ name: "dd-seed", bind: "127.0.0.1:0", tune: FAST });
  agents.push(seed);
  const first = new AgentProcess("deno", "dd-b", [
    "--bind",
    "127.0.0.1:0",
    "--data-dir",
    dir,
    "--join",
    `127.0.0.1:${seed.node.address.port}`,
    ...FAST_TUNE,
  ]);
  procs.push(first);
  await first.udpPort();
  await eventually(
    () => seed.node.member("dd-b")?.state === "alive" ? true : undefined,
    20_000,
    "the seed to see dd-b",
  );
  const before = seed.node.member("dd-b")!.incarnation;
  await eventually(
    () => {
      try {
        const saved = JSON.parse(readFileSync(join(dir, "peers.json"), "utf8"));
        return saved.peers.includes(`127.0.0.1:${seed.node.address.port}`) ? true : undefined;
      } catch {
        return undefined;
      }
    },
    20_000,
    "peers.json to list the seed",
  );
  await first.stop("SIGKILL"); // a crash: no leave, nothing flushed on the way out

  // No --name and no --join: both come from the data directory (Bun this time).
  const second = new ShoalProcess("bun", "dd-b", [
    "agent",
    "--bind",
    "127.0.0.1:0",
    "--data-dir",
    dir,
    ...FAST_TUNE,
  ]);
  procs.push(second);
  await second.waitFor(/listening on/);
  assert.match(second.stderr, /^shoal agent: dd-b listening on/m, "the name from the data dir");
  assert.doesNotMatch(second.stderr, /data dir:/, "the crash left whole files behind");
  await second.waitFor(/joining 127\.0\.0\.1:\d+/);
  await eventually(
    () => {
      const m = seed.node.member("dd-b");
      return m?.state === "alive" && m.incarnation > before ? true : undefined;
    },
    20_000,
    "dd-b back alive at a higher incarnation",
  );
});
