/**
 * shoal serf members and real serf 0.8.2 agents (Debian's `serf`) in one cluster (issue 13):
 * tags both ways, user events both ways (a `serf event` reaches each shoal handler once, a
 * shoal event reaches `serf monitor`), queries both ways with acks, responses and filters,
 * leave and failure seen both ways, and no ERR or WARN line in any serf agent's log.
 *
 * Skipped (with the reason printed) when `serf` is not on PATH, except in CI, where .ci/run
 * installs it and the suite must run.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import process from "node:process";
import {
  createSerf,
  type QueryOptions,
  type Serf,
  type SerfUserEvent,
} from "../../src/serf/mod.ts";
import {
  SerfAgent,
  type SerfCliMember,
  serfVersion,
  sleep,
  stopAllSerfAgents,
  until,
} from "../serf/_serf_agent.ts";

const LONG = { timeout: 120_000 };
const SHOAL_FAST = { pushPullInterval: 5000, tcpTimeout: 2000 };
const text = (b: Uint8Array) => new TextDecoder().decode(b);

let skip: string | undefined;
const shoals: Serf[] = [];
const agents: SerfAgent[] = [];
/** User events each shoal member received: name → payloads. */
const received = new Map<string, SerfUserEvent[]>();

before(async () => {
  const version = await serfVersion();
  if (version === undefined) {
    skip = "serf is not on PATH (apt-get install -y serf)";
    if (process.env.CI) throw new Error(`in CI: ${skip}`);
    console.log(`skipping the serf interop suite: ${skip}`);
  }
});
after(async () => {
  await Promise.all(shoals.map((s) => s.close()));
  await stopAllSerfAgents();
  if (retried) console.log(`serf interop: ${retried} queries asked again`);
  for (const [name, lines] of ownSeen) {
    for (const l of lines) {
      console.log(
        `serf interop: ${name} logged (not counted: serf's own, or to a member failed on purpose): ${l}`,
      );
    }
  }
});

async function shoal(name: string, seeds: string[], tags: Record<string, string>): Promise<Serf> {
  const s = await createSerf({
    name,
    bind: "127.0.0.1:0",
    seeds,
    tags,
    preset: "lan",
    config: SHOAL_FAST,
    leavePropagateMs: 500,
  });
  shoals.push(s);
  const got: SerfUserEvent[] = [];
  received.set(name, got);
  s.onEvent((e) => {
    if (e.type === "user") got.push(e);
    else if (e.name === "who-has") e.respond(`shoal-has-${name}:${text(e.payload)}`);
  });
  return s;
}

const status = (members: SerfCliMember[], name: string) =>
  members.find((m) => m.name === name)?.status;
const shoalStatus = (s: Serf, name: string) => s.members().find((m) => m.name === name)?.status;

/**
 * Lines about the serf CLI's RPC connection, not about the cluster:
 * - serf 0.8.2's own race: when a query ends, the agent's RPC stream may see the response
 *   channels closed before its done timer and write to a `serf query` client that has gone.
 *   Seen in a cluster of serf agents alone under CPU load (60 queries with 3 busy loops: one
 *   such ERR).
 * - a `serf monitor` the test stops: the agent may write one more log line to it before it
 *   notices the connection closed.
 */
const SERF_OWN = [
  /\[ERR\] agent\.ipc: Failed to stream (ack|response|query end) to ipc\.client/,
  /\[ERR\] agent\.ipc: Failed to stream log to ipc\.client/,
];

/** Queries asked again because gossip missed a member (printed at the end). */
let retried = 0;

/**
 * Ask (up to 3 times) until `ok`: a query reaches members by gossip, and under load one
 * member may hear of it only after its timeout, as in a serf-only cluster. Every retry is
 * printed with what was missing.
 */
async function settled<T>(what: string, ask: () => Promise<T>, ok: (r: T) => boolean): Promise<T> {
  let r = await ask();
  for (let i = 1; i < 3 && !ok(r); i++) {
    retried++;
    console.log(`${what}: asking again (attempt ${i + 1}); got ${JSON.stringify(r)}`);
    r = await ask();
  }
  return r;
}

const same = (a: readonly string[] | null, b: readonly string[]) =>
  JSON.stringify([...(a ?? [])].sort()) === JSON.stringify([...b].sort());

type CliAnswers = { Acks: string[] | null; Responses: Record<string, string> | null };
async function serfQuery(agent: SerfAgent, args: string[]): Promise<CliAnswers> {
  return JSON.parse(await agent.cli(["query", "-format=json", "-timeout=3s", ...args]));
}

/** serf's own lines seen so far (printed at the end), per agent. */
const ownSeen = new Map<string, Set<string>>();

/**
 * Members the test fails on purpose (a closed shoal member, a killed serf agent): memberlist
 * may pick one for its periodic push/pull before it is declared dead, and logs the refused
 * connection as an ERR, as it does in a serf-only cluster when a member dies.
 */
const failedOnPurpose = new Set<string>();
/** Serf agents the test made leave: their own "shutting down" line as they quit is theirs. */
const leftOnPurpose = new Set<string>();
const quitting = (agent: string, l: string) =>
  leftOnPurpose.has(agent) && l.includes("[WARN] agent: Serf shutdown detected, quitting");
const pushPullToTheDead = (l: string) =>
  [...failedOnPurpose].some((n) =>
    l.includes(`[ERR] memberlist: Push/Pull with ${n} failed:`) && l.includes("connection refused")
  );

function assertClean() {
  for (const a of agents) {
    const bad = a.problems().filter((l) =>
      !SERF_OWN.some((re) => re.test(l)) && !pushPullToTheDead(l) && !quitting(a.name, l)
    );
    for (const l of a.problems()) {
      if (!bad.includes(l)) ownSeen.set(a.name, (ownSeen.get(a.name) ?? new Set()).add(l));
    }
    assert.deepEqual(bad, [], `${a.name} logged ERR/WARN lines`);
  }
}

describe("interop with serf 0.8.2 agents", LONG, () => {
  let s1: SerfAgent, s2: SerfAgent, s3: SerfAgent;
  let h1: Serf, h2: Serf, h3: Serf;
  const all = ["h1", "h2", "h3", "s1", "s2", "s3"];

  test(
    "a mixed cluster forms, with tags and protocol versions right both ways",
    LONG,
    async (t) => {
      if (skip) return t.skip(skip);
      s1 = await SerfAgent.start({
        name: "s1",
        tags: { role: "web", dc: "east" },
        // The handler reads the payload first: serf writes it to stdin (a closed pipe is an ERR).
        args: ["-event-handler=query:who-has=cat >/dev/null; printf serf-has-$SERF_SELF_NAME"],
      });
      agents.push(s1);
      h1 = await shoal("h1", [s1.hostPort], { role: "ts", dc: "east" });
      s2 = await SerfAgent.start({ name: "s2", tags: { role: "web" }, join: [s1.hostPort] });
      agents.push(s2);
      h2 = await shoal("h2", [s2.hostPort], { role: "ts" });
      s3 = await SerfAgent.start({
        name: "s3",
        tags: { role: "db" },
        join: [`127.0.0.1:${h1.node.address.port}`], // a serf agent joins through a shoal member
      });
      agents.push(s3);
      h3 = await shoal("h3", [s3.hostPort], { role: "ts", zone: "b" });

      for (const a of agents) {
        await until(async () => {
          const ms = await a.members();
          return all.every((n) => status(ms, n) === "alive");
        }, `${a.name} to list every member alive`);
      }
      for (const h of shoals) {
        await until(() => all.every((n) => shoalStatus(h, n) === "alive"), `${h.name} to see all`);
      }
      const seen = await s2.members();
      const h3m = seen.find((m) => m.name === "h3")!;
      assert.deepEqual(h3m.tags, { role: "ts", zone: "b" });
      assert.deepEqual(h3m.protocol, { min: 2, max: 5, version: 5 });
      assert.deepEqual(seen.find((m) => m.name === "h1")!.tags, { role: "ts", dc: "east" });
      assert.deepEqual(h2.members().find((m) => m.name === "s1")!.tags, {
        role: "web",
        dc: "east",
      });
      assert.deepEqual(h2.members().find((m) => m.name === "s3")!.tags, { role: "db" });

      // Tags changed at run time reach the serf agents.
      await h1.setTags({ role: "ts", dc: "east", v: "2" });
      await until(async () => {
        const m = (await s3.members()).find((m) => m.name === "h1");
        return m?.tags.v === "2";
      }, "s3 to see h1's new tag");
      assertClean();
    },
  );

  test("a serf event reaches every shoal handler exactly once", LONG, async (t) => {
    if (skip) return t.skip(skip);
    await s2.cli(["event", "purge", "/index.html"]);
    const purges = (name: string) => received.get(name)!.filter((e) => e.name === "purge");
    await until(() => shoals.every((h) => purges(h.name).length >= 1), "every shoal to get it");
    await sleep(1500); // gossip keeps relaying it meanwhile: duplicates would show up here
    for (const h of shoals) {
      assert.equal(purges(h.name).length, 1, `${h.name} got the event once`);
      assert.equal(text(purges(h.name)[0].payload), "/index.html");
    }
    assertClean();
  });

  test("a shoal event reaches serf monitor and the other members", LONG, async (t) => {
    if (skip) return t.skip(skip);
    const monitor = spawn("serf", [
      "monitor",
      `-rpc-addr=127.0.0.1:${s3.rpcPort}`,
      "-log-level=info",
    ], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    monitor.stdout.on("data", (d) => (out += String(d)));
    try {
      await sleep(300); // the monitor subscribes
      h2.event("invalidate", "user:42", { coalesce: false });
      await until(() => /user-event: invalidate/.test(out), "serf monitor to show the event");
      for (const a of [s1, s2]) {
        await until(
          () => a.log.some((l) => l.includes("Received event: user-event: invalidate")),
          `${a.name} to receive the event`,
        );
      }
      const got = (name: string) => received.get(name)!.filter((e) => e.name === "invalidate");
      await until(() => got("h1").length === 1 && got("h3").length === 1, "the shoals to get it");
      assert.equal(got("h2").length, 1, "the sender delivers its own event too");
    } finally {
      monitor.kill("SIGKILL");
    }
    assertClean();
  });

  test(
    "a serf query gets acks and responses from shoal members, filters apply",
    LONG,
    async (t) => {
      if (skip) return t.skip(skip);
      const res = await settled(
        "serf query",
        () => serfQuery(s2, ["who-has", "k1"]),
        (r) => same(r.Acks, all),
      );
      assert.deepEqual([...res.Acks ?? []].sort(), all);
      assert.deepEqual(res.Responses, {
        h1: "shoal-has-h1:k1",
        h2: "shoal-has-h2:k1",
        h3: "shoal-has-h3:k1",
        s1: "serf-has-s1",
      });
      const ts = ["h1", "h2", "h3"];
      const byTag = await settled(
        "serf query -tag",
        () => serfQuery(s1, ["-tag", "role=^ts$", "who-has", "k2"]),
        (r) => same(r.Acks, ts),
      );
      assert.deepEqual([...byTag.Acks ?? []].sort(), ts);
      const byNode = await settled(
        "serf query -node",
        () => serfQuery(s3, ["-node", "h2", "who-has", "k3"]),
        (r) => same(r.Acks, ["h2"]),
      );
      assert.deepEqual(byNode.Acks, ["h2"]);
      assert.deepEqual(byNode.Responses, { h2: "shoal-has-h2:k3" });
      assertClean();
    },
  );

  test("a shoal query gets acks and responses from serf agents, filters apply", LONG, async (t) => {
    if (skip) return t.skip(skip);
    const ask = (from: Serf, key: string, options: QueryOptions = {}) => () =>
      from.query("who-has", key, { timeout: 3000, ...options }).collect();
    const res = await settled("shoal query", ask(h3, "k4"), (r) => same(r.acks, all));
    assert.deepEqual([...res.acks].sort(), all);
    const answers = Object.fromEntries(res.responses.map((r) => [r.from, text(r.payload)]));
    assert.deepEqual(answers, {
      h1: "shoal-has-h1:k4",
      h2: "shoal-has-h2:k4",
      h3: "shoal-has-h3:k4",
      s1: "serf-has-s1",
    });
    const web = await settled(
      "shoal query filterTags",
      ask(h1, "k5", { filterTags: { role: "web" } }),
      (r) => same(r.acks, ["s1", "s2"]),
    );
    assert.deepEqual([...web.acks].sort(), ["s1", "s2"]);
    const one = await settled(
      "shoal query filterNodes",
      ask(h1, "k6", { filterNodes: ["s3"] }),
      (r) => same(r.acks, ["s3"]),
    );
    assert.deepEqual(one.acks, ["s3"]);
    assert.deepEqual(one.responses, []);
    const relayed = await settled(
      "shoal query relayFactor",
      ask(h2, "k7", { relayFactor: 2 }),
      (r) => same(r.acks, all),
    );
    assert.deepEqual([...relayed.acks].sort(), all, "relayed duplicates are not counted twice");
    assert.equal(relayed.responses.length, 4);
    assertClean();
  });

  test("leaves are seen as left, failures as failed, both ways", LONG, async (t) => {
    if (skip) return t.skip(skip);
    await h2.leave();
    for (const a of [s1, s3]) {
      await until(async () => status(await a.members(), "h2") === "left", `${a.name}: h2 left`);
    }
    await h2.close();

    leftOnPurpose.add("s2");
    s2.interrupt(); // a graceful leave
    await s2.exited();
    for (const h of [h1, h3]) {
      await until(() => shoalStatus(h, "s2") === "left", `${h.name}: s2 left`);
    }

    failedOnPurpose.add("h3");
    await h3.close(); // no leave: a failure
    for (const a of [s1, s3]) {
      await until(async () => status(await a.members(), "h3") === "failed", `${a.name}: h3 failed`);
    }

    failedOnPurpose.add("s3");
    s3.kill();
    await until(() => shoalStatus(h1, "s3") === "failed", "h1: s3 failed");
    assert.equal(h1.stats().internalErrors, 0);
    assert.deepEqual(h1.stats().decodeErrors, {});
    assertClean();
  });
});
