/**
 * The deployment files under deploy/ (docs/deploy.md): the Compose file, the Kubernetes
 * manifests and fly.toml parse (YAML and TOML through Bun's parsers, run as a child so the
 * test is the same under Deno), hold together (headless service, seeds, signals, variables
 * defined), and every agent command line in them is one the real `shoal agent` accepts:
 * strictly parsed, its seeds parsed as DNS names, then started (on 127.0.0.1, without the
 * seeds, which need the platform's DNS) and stopped with SIGTERM.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { parseSeed } from "../../mod.ts";
import { agentCommand } from "../../src/cli/commands/agent.ts";
import { runChild } from "./_run.ts";
import { bin, root, ShoalProcess } from "../agent/helpers.ts";

/** Run a child to completion (killed after 30 s); its stdout, or a rejection naming why. */
async function output(cmd: string, args: string[], env: Record<string, string> = {}) {
  const { code, stdout, stderr } = await runChild(cmd, args, {
    cwd: root,
    env: { ...process.env, ...env },
  });
  if (code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${code}: ${stderr}`);
  return stdout;
}

/** Parse a YAML (all documents) or TOML file with Bun's parsers. */
async function parse(path: string, format: "YAML" | "TOML"): Promise<unknown> {
  const script = `const t = await Bun.file(${JSON.stringify(path)}).text();` +
    `console.log(JSON.stringify(Bun.${format}.parse(t)));`;
  return JSON.parse(await output(bin("bun"), ["-e", script]));
}

const BOOLEAN_FLAGS = new Set(["--json", "--http-public-reads"]);

/** `["--a=1", "--b", "2", "--json"]` → `[["--a", "1"], ["--b", "2"], ["--json", undefined]]`. */
function flags(args: readonly string[]): [string, string | undefined][] {
  const out: [string, string | undefined][] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    assert.ok(arg.startsWith("--"), `not a flag: ${arg}`);
    const eq = arg.indexOf("=");
    if (eq > 0) out.push([arg.slice(0, eq), arg.slice(eq + 1)]);
    else if (BOOLEAN_FLAGS.has(arg)) out.push([arg, undefined]);
    else out.push([arg, args[++i]]);
  }
  return out;
}

/** The values of `flag` (comma-separated lists split). */
const values = (args: readonly string[], flag: string): string[] =>
  flags(args).filter(([f]) => f === flag).flatMap(([, v]) => (v ?? "").split(","));

/**
 * Check an agent command line (`["agent", ...]`) against the real CLI: the strict parser
 * accepts every flag, and the agent starts with it, answers on its HTTP API (every command
 * line here has `--http`) and leaves on SIGTERM. Addresses become
 * 127.0.0.1 with free ports, DNS seeds are left out and the data dir is a temporary one.
 */
async function checkAgent(argv: readonly string[], env: Record<string, string> = {}) {
  assert.equal(argv[0], "agent");
  const args = argv.slice(1);
  // 1. The strict parser (unknown flags, missing values); --help then stops before running.
  const log = console.log;
  console.log = () => {};
  let parsed: number;
  try {
    parsed = await agentCommand.run([...args, "--help"]);
  } finally {
    console.log = log;
  }
  assert.equal(parsed, 0);
  // 2. Run it.
  const dir = await mkdtemp(join(tmpdir(), "shoal-deploy-"));
  const local: string[] = [];
  for (const [flag, value] of flags(args)) {
    if (flag === "--join") {
      // Seeds are DNS names of the platform: parsed here (no lookup), not joined.
      for (const seed of (value ?? "").split(",")) assert.ok(parseSeed(seed).name, seed);
      continue;
    }
    if (flag === "--advertise") continue;
    local.push(flag);
    if (flag === "--bind" || flag === "--http") local.push("127.0.0.1:0");
    else if (flag === "--data-dir") local.push(join(dir, "state"));
    else if (value !== undefined) local.push(value);
  }
  const agent = new ShoalProcess("bun", "deploy-check", ["agent", ...local], env);
  try {
    await agent.udpPort();
    // Up and serving: the API answers for this member (also lets the agent finish starting,
    // signal handlers included, before the SIGTERM).
    const token = env.SHOAL_HTTP_TOKEN;
    const res = await fetch(`http://${await agent.httpAddr()}/v1/health`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    const health = (await res.json()) as { name: string; state: string };
    assert.deepEqual([health.name, health.state], [values(args, "--name")[0], "alive"]);
    assert.equal(await agent.stop("SIGTERM", 15_000), 0, agent.stderr);
    assert.match(agent.stderr, /left; bye/);
  } finally {
    await agent.stop("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  }
}

/** A fresh 32-byte key, as `shoal keygen` prints it. */
const key = () => btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));

interface ComposeService {
  command: string[];
  hostname?: string;
  stop_signal?: string;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
  build?: { context: string; dockerfile: string };
}

describe("deploy/ files", { timeout: 120_000 }, () => {
  test("compose.yaml: three agents joining each other by service name", async () => {
    const compose = (await parse("deploy/compose.yaml", "YAML")) as {
      services: Record<string, ComposeService>;
    };
    const names = Object.keys(compose.services).sort();
    assert.deepEqual(names, ["shoal-1", "shoal-2", "shoal-3"]);
    for (const [name, service] of Object.entries(compose.services)) {
      const args = service.command;
      assert.equal(args[0], "agent", name);
      assert.deepEqual(values(args.slice(1), "--name"), [name]);
      const others = names.filter((n) => n !== name).map((n) => `${n}:7946`);
      assert.deepEqual(values(args.slice(1), "--join").sort(), others, `${name} --join`);
      assert.equal(service.stop_signal, "SIGTERM");
      assert.deepEqual(service.healthcheck?.test.slice(1, 3), ["/usr/local/bin/shoal", "members"]);
      // The data dir lives in the volume, and only loopback publishes the API.
      const [dataDir] = values(args.slice(1), "--data-dir");
      assert.ok(service.volumes?.some((v) => dataDir.startsWith(v.split(":")[1] + "/")), name);
      for (const port of service.ports ?? []) assert.match(port, /^127\.0\.0\.1:/);
      assert.deepEqual(service.build, { context: "../dist", dockerfile: "../deploy/Dockerfile" });
      await checkAgent(args);
    }
  });

  test("kubernetes/: a headless service and a StatefulSet joining through it", async () => {
    const service = (await parse("deploy/kubernetes/service.yaml", "YAML")) as {
      kind: string;
      metadata: { name: string };
      spec: {
        clusterIP: string;
        publishNotReadyAddresses: boolean;
        selector: Record<string, string>;
        ports: { port: number; protocol: string }[];
      };
    };
    assert.equal(service.kind, "Service");
    assert.equal(service.spec.clusterIP, "None");
    assert.equal(service.spec.publishNotReadyAddresses, true);
    assert.deepEqual(
      service.spec.ports.map((p) => `${p.port}/${p.protocol}`).sort(),
      ["7946/TCP", "7946/UDP"],
    );

    const docs = (await parse("deploy/kubernetes/statefulset.yaml", "YAML")) as {
      kind: string;
      spec: Record<string, unknown>;
    }[];
    assert.deepEqual(docs.map((d) => d.kind), ["StatefulSet", "PodDisruptionBudget"]);
    const spec = docs[0].spec as {
      serviceName: string;
      selector: { matchLabels: Record<string, string> };
      template: {
        metadata: { labels: Record<string, string> };
        spec: {
          terminationGracePeriodSeconds: number;
          containers: {
            args: string[];
            env: { name: string; value?: string; valueFrom?: unknown }[];
            ports: { containerPort: number; protocol: string }[];
          }[];
        };
      };
    };
    assert.equal(spec.serviceName, service.metadata.name);
    assert.deepEqual(spec.selector.matchLabels, service.spec.selector);
    assert.deepEqual(spec.template.metadata.labels, service.spec.selector);
    // SIGTERM, then the leave; the grace period must leave it time.
    assert.ok(spec.template.spec.terminationGracePeriodSeconds >= 10);
    const [container] = spec.template.spec.containers;
    const defined = new Set(container.env.map((e) => e.name));
    const used = container.args.join(" ").match(/\$\(([A-Z_]+)\)/g) ?? [];
    for (const ref of used) assert.ok(defined.has(ref.slice(2, -1)), `${ref} is not in env`);
    const args = container.args.slice(1);
    assert.deepEqual(values(args, "--join"), [
      `${service.metadata.name}.$(POD_NAMESPACE).svc.cluster.local:7946`,
    ]);
    assert.deepEqual(values(args, "--advertise"), ["$(POD_IP):7946"]);
    assert.deepEqual(
      container.ports.filter((p) => p.containerPort === 7946).map((p) => p.protocol).sort(),
      ["TCP", "UDP"],
    );
    // What the kubelet passes, with the variables expanded as it expands them.
    const pod: Record<string, string> = {
      POD_NAME: "shoal-0",
      POD_NAMESPACE: "default",
      POD_IP: "127.0.0.1",
      NODE_NAME: "node-a",
      SHOAL_GOSSIP_KEY: key(),
    };
    const expanded = container.args.map((a) =>
      a.replace(/\$\(([A-Z_]+)\)/g, (_, name: string) => pod[name])
    );
    await checkAgent(expanded, { SHOAL_HTTP_TOKEN: "deploy-test-token" });
  });

  test("fly/fly.toml: the 6PN address and <app>.internal, through the shell", async () => {
    const fly = (await parse("deploy/fly/fly.toml", "TOML")) as {
      kill_signal: string;
      kill_timeout: number;
      processes: { app: string };
      build: { args: { BASE: string } };
    };
    assert.equal(fly.kill_signal, "SIGTERM");
    assert.ok(fly.kill_timeout >= 10);
    assert.match(fly.build.args.BASE, /debian/); // the command needs /bin/sh
    // Let the shell expand the command as on a machine, printing the agent's argv.
    const command = fly.processes.app;
    assert.ok(command.startsWith("/bin/sh -c '") && command.endsWith("'"), command);
    const inner = command.slice("/bin/sh -c '".length, -1);
    assert.ok(inner.startsWith("exec /usr/local/bin/shoal agent "), inner);
    const machine: Record<string, string> = {
      FLY_MACHINE_ID: "148e272b6e2d89",
      FLY_PRIVATE_IP: "fdaa:0:1:a7b:1::2",
      FLY_APP_NAME: "shoal-example",
      FLY_REGION: "ams",
      SHOAL_GOSSIP_KEY: key(),
    };
    const printed = await output(
      "/bin/sh",
      ["-c", inner.replace("exec /usr/local/bin/shoal", `printf '%s\\n'`)],
      machine,
    );
    const argv = printed.split("\n").slice(0, -1);
    const args = argv.slice(1);
    assert.deepEqual(values(args, "--name"), ["148e272b6e2d89"]);
    assert.deepEqual(values(args, "--bind"), ["[fdaa:0:1:a7b:1::2]:7946"]);
    assert.deepEqual(values(args, "--join"), ["shoal-example.internal:7946"]);
    assert.deepEqual(values(args, "--key"), [machine.SHOAL_GOSSIP_KEY]);
    await checkAgent(argv);
  });
});
