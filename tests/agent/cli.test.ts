/**
 * The `shoal` CLI driving real agent processes under Deno and Bun: three agents form a
 * cluster, `members --json` sees them, `leave` makes one leave, signals leave gracefully,
 * and command-line mistakes exit 2 with one line of explanation.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  AgentProcess,
  eventually,
  FAST_TUNE,
  runCli,
  type Runtime,
  ShoalProcess,
} from "./helpers.ts";

interface Listed {
  members: { name: string; state: string; meta: Record<string, string> | null; port: number }[];
}

async function members(runtime: Runtime, http: string, extra: string[] = []): Promise<Listed> {
  const r = await runCli(runtime, ["members", "--http", http, "--json", ...extra]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Listed;
}

const states = (l: Listed) => Object.fromEntries(l.members.map((m) => [m.name, m.state]));

describe("shoal agent processes (Deno and Bun)", { timeout: 120_000 }, () => {
  const agents: AgentProcess[] = [];
  let monitor: ShoalProcess | undefined;
  let httpA = "", httpB = "", httpC = "";

  before(async () => {
    const a = new AgentProcess("deno", "cli-a", [
      "--bind",
      "127.0.0.1:0",
      "--http",
      "127.0.0.1:0",
      "--meta",
      "role=seed",
      "--meta",
      "dc=eu-1",
      ...FAST_TUNE,
    ]);
    agents.push(a);
    const seed = `127.0.0.1:${await a.udpPort()}`;
    httpA = await a.httpAddr();
    monitor = new ShoalProcess("bun", "monitor", ["monitor", "--http", httpA, "--json"]);
    await monitor.waitFor(/following cli-a/);
    const b = new AgentProcess("bun", "cli-b", [
      "--bind",
      "127.0.0.1:0",
      "--join",
      seed,
      "--http",
      "127.0.0.1:0",
      "--json",
      ...FAST_TUNE,
    ]);
    const c = new AgentProcess("deno", "cli-c", [
      "--bind",
      "127.0.0.1:0",
      "--join",
      seed,
      "--http",
      "127.0.0.1:0",
      "--meta",
      "role=worker",
      ...FAST_TUNE,
    ]);
    agents.push(b, c);
    httpB = await b.httpAddr();
    httpC = await c.httpAddr();
  });

  after(async () => {
    await Promise.all([...agents, ...(monitor ? [monitor] : [])].map((a) => a.stop("SIGKILL")));
  });

  test("members --json shows three alive members, with tags", { timeout: 60_000 }, async () => {
    const listed = await eventually(
      async () => {
        const l = await members("deno", httpA);
        return l.members.length === 3 && l.members.every((m) => m.state === "alive")
          ? l
          : undefined;
      },
      30_000,
      "3 alive members seen by cli-a",
    );
    assert.deepEqual(listed.members.map((m) => m.name), ["cli-a", "cli-b", "cli-c"]);
    assert.deepEqual(listed.members[0].meta, { dc: "eu-1", role: "seed" });
    // The Bun agent sees the same, asked through the Bun CLI.
    const fromB = await eventually(
      async () => {
        const l = await members("bun", httpB);
        return Object.values(states(l)).filter((s) => s === "alive").length === 3 ? l : undefined;
      },
      30_000,
      "3 alive members seen by cli-b",
    );
    assert.deepEqual(fromB.members.find((m) => m.name === "cli-c")?.meta, { role: "worker" });
    // The Bun agent printed JSON events, one object per line.
    const lines = agents[1].stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(lines.some((e) => e.type === "join" && e.member.name === "cli-a"));
    assert.deepEqual(
      lines.find((e) => e.member.name === "cli-a").member.meta,
      { dc: "eu-1", role: "seed" },
    );
    // The table form.
    const table = await runCli("bun", ["members", "--http", httpA]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^Name\s+Address\s+Status\s+Incarnation\s+Tags$/m);
    assert.match(table.stdout, /^cli-a\s+127\.0\.0\.1:\d+\s+alive\s+\d+\s+dc=eu-1,role=seed$/m);
  });

  test("monitor streams the agent's events as JSON lines", { timeout: 30_000 }, async () => {
    await monitor!.waitFor(/"type":"join","member":\{"name":"cli-c"/);
    const events = monitor!.stdout.trim().split("\n").map((l) => JSON.parse(l));
    const joined = events.filter((e) => e.type === "join").map((e) => e.member.name).sort();
    assert.deepEqual(joined, ["cli-b", "cli-c"]);
    assert.deepEqual(events.find((e) => e.member.name === "cli-c").member.meta, { role: "worker" });
  });

  test("--status filters", { timeout: 30_000 }, async () => {
    const alive = await members("deno", httpA, ["--status", "alive"]);
    assert.ok(alive.members.length >= 1);
    assert.ok(alive.members.every((m) => m.state === "alive"));
    const left = await members("deno", httpA, ["--status", "left,dead"]);
    assert.ok(left.members.every((m) => m.state === "left" || m.state === "dead"));
  });

  test("leave: the agent leaves, others see it left, and it exits 0", {
    timeout: 60_000,
  }, async () => {
    const r = await runCli("bun", ["leave", "--http", httpC]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /cli-c left the cluster/);
    assert.equal(await agents[2].exited, 0);
    await eventually(
      async () => {
        const s = states(await members("deno", httpA));
        return s["cli-c"] === "left" ? true : undefined;
      },
      20_000,
      "cli-a to see cli-c left",
    );
    const s = states(await members("bun", httpB));
    assert.equal(s["cli-c"], "left");
  });

  test("SIGTERM: the agent leaves gracefully and exits 0", { timeout: 60_000 }, async () => {
    assert.equal(await agents[1].stop("SIGTERM"), 0);
    assert.match(agents[1].stderr, /SIGTERM: leaving the cluster/);
    await eventually(
      async () => {
        const s = states(await members("deno", httpA));
        return s["cli-b"] === "left" ? true : undefined;
      },
      20_000,
      "cli-a to see cli-b left",
    );
  });

  test("an address in use is one clear line, no stack trace, exit 1", {
    timeout: 30_000,
  }, async () => {
    for (const runtime of ["deno", "bun"] as const) {
      const r = await runCli(runtime, [
        "agent",
        "--name",
        "x",
        "--bind",
        "127.0.0.1:0",
        "--http",
        httpA,
      ]);
      assert.equal(r.code, 1, `${runtime}: ${r.stderr}`);
      assert.match(
        r.stderr,
        /^shoal agent: cannot bind HTTP 127\.0\.0\.1:\d+: the address is already in use$/m,
      );
      assert.doesNotMatch(r.stderr, /\bat .*\.ts:\d+/);
    }
  });
});

describe("command-line mistakes exit 2 with one line", { timeout: 60_000 }, () => {
  const cases: [string[], RegExp][] = [
    [["agent", "--bogus"], /^shoal agent: unknown option --bogus/],
    [["agent", "--bind"], /^shoal agent: option --bind needs a value/],
    [["agent", "--profile", "fast"], /^shoal agent: --profile must be one of lan, wan, local/],
    [["agent", "--bind", "nowhere:x"], /^shoal agent: --bind: /],
    [["agent", "--meta", "novalue"], /^shoal agent: --meta expects KEY=VALUE/],
    [["agent", "--key", "c2hvcnQ="], /^shoal agent: --key: a key must be 16, 24 or 32 bytes/],
    [
      ["agent", "--key", "not base64!"],
      /^shoal agent: --key: a key must be given as standard base64/,
    ],
    [["agent", "--tune", "probeInterval=-1"], /^shoal agent: --tune: probeInterval must be/],
    [["agent", "--tune", "nope=1"], /^shoal agent: --tune expects KEY=VALUE/],
    [["agent", "--tune", "flapDamping=on"], /^shoal agent: --tune flapDamping: only "off"/],
    [["agent", "--tune", "flapDamping.reuse=5"], /^shoal agent: --tune: flapDamping needs reuse/],
    [["agent", "stray"], /^shoal agent: unexpected argument stray/],
    [["members", "--status", "zombie"], /^shoal members: --status must be one of/],
    [["members", "--json=yes"], /^shoal members: option --json takes no value/],
    [["join"], /^shoal join: give at least one HOST:PORT/],
    [["join", "not an address"], /^shoal join: /],
    [["leave", "--now"], /^shoal leave: unknown option --now/],
    [["monitor", "extra"], /^shoal monitor: unexpected argument extra/],
    [["keygen", "--bits", "128"], /^shoal keygen: unknown option --bits/],
    [["frobnicate"], /^shoal: unknown command "frobnicate"/],
  ];
  for (const runtime of ["deno", "bun"] as const) {
    test(`${runtime}: bad flags`, { timeout: 60_000 }, async () => {
      // Run them a few at a time: each is a process start.
      for (let i = 0; i < cases.length; i += 6) {
        await Promise.all(
          cases.slice(i, i + 6).map(async ([args, pattern]) => {
            const r = await runCli(runtime, args);
            assert.equal(r.code, 2, `${args.join(" ")}: exit ${r.code}, ${r.stderr}`);
            assert.match(r.stderr, pattern, args.join(" "));
            assert.equal(r.stderr.trim().split("\n").length, 1, `one line for ${args.join(" ")}`);
            assert.equal(r.stdout, "");
          }),
        );
      }
    });
  }

  test(
    "--help on every command, keygen and an unreachable agent",
    { timeout: 60_000 },
    async () => {
      const commands = ["agent", "members", "join", "leave", "monitor", "keygen"];
      await Promise.all(commands.map(async (c, i) => {
        const r = await runCli(i % 2 ? "bun" : "deno", [c, "--help"]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`^Usage: shoal ${c}`));
      }));
      const top = await runCli("bun", ["--help"]);
      assert.equal(top.code, 0);
      for (const c of commands) assert.match(top.stdout, new RegExp(`^  ${c} `, "m"));
      const key = await runCli("deno", ["keygen"]);
      assert.equal(key.code, 0);
      assert.equal(atob(key.stdout.trim()).length, 32);
      const down = await runCli("bun", ["members", "--http", "127.0.0.1:1"]);
      assert.equal(down.code, 1);
      assert.match(
        down.stderr,
        /^shoal members: cannot reach the agent at http:\/\/127\.0\.0\.1:1/,
      );
    },
  );
});
