/**
 * `shoal agent`: run a cluster member until SIGINT/SIGTERM, then leave gracefully.
 *
 * @module
 */

import { hostname } from "node:os";
import process from "node:process";
import { AddressError, parseAddress, parseSeed } from "../../core/address.ts";
import { ConfigError, type ConfigPreset, resolveConfig } from "../../core/config.ts";
import { type Agent, AgentBindError, type AgentOptions, startAgent } from "../../agent/agent.ts";
import { eventJson } from "../../http/json.ts";
import { KeyringError, parseKey } from "../../wire/keyring.ts";
import { LABEL_MAX_SIZE } from "../../wire/label.ts";
import { allowedHostName } from "../../http/hosts.ts";
import { encodeTags, parseTagArgs, TagError, type Tags } from "../../node/tags.ts";
import { type Command, defineCommand, type Options, type ParsedArgs } from "../command.ts";
import { eventLine } from "../format.ts";
import { parseTune } from "../tune.ts";
import { loadState } from "../../node/persist.ts";
import { CommandError, UsageError } from "../usage.ts";

const HELP = `Usage: shoal agent [options]

Run a cluster member until interrupted (SIGINT/SIGTERM), then leave gracefully.

Options:
  --name NAME          member name, unique in the cluster (default: the name remembered
                       in --data-dir, else the host name)
  --bind HOST:PORT     UDP address to bind (default 0.0.0.0:7946)
  --advertise HOST:PORT
                       address other members should use (default: the bound one)
  --join HOST:PORT,... members to join through (repeatable, comma-separated); HOST may be
                       a DNS name, resolved again at every join attempt and re-announce
  --profile P          timing preset: lan (default), wan or local
  --meta KEY=VALUE     a tag, announced as metadata (repeatable)
  --key BASE64         gossip encryption key, 16/24/32 bytes (repeatable; the first
                       encrypts, all decrypt; make one with 'shoal keygen'); packets and
                       TCP streams are encrypted
  --label LABEL        packet label: only members with the same label can talk
  --data-dir DIR       keep state here: name and incarnation, and the peers to rejoin
                       on the next start
  --http HOST:PORT     serve the HTTP API and the dashboard (e.g. 127.0.0.1:7373)
  --http-token TOKEN   token for API calls (default $SHOAL_HTTP_TOKEN); without one only
                       loopback callers may join or leave, and reads are open
  --http-public-reads  with --http-token, serve reads (GET) without the token
  --http-allow-host NAME
                       a name the API answers to in the Host header, besides localhost
                       and IP addresses (repeatable); others get 421
  --allow-cidr NET     accept packets from and members at this network only, e.g.
                       127.0.0.0/8 (repeatable; default: any)
  --tune KEY=VALUE     override a protocol setting, e.g. probeInterval=200,
                       maxMembers=2000, flapDamping.suppress=4 or flapDamping=off
                       (repeatable)
  --serf               run as a serf member (serf 0.8 agents' tags, events, queries;
                       see shoal event, shoal query)
  --json               print each membership event as one JSON object per line
  -h, --help           show this help

Events go to stdout; agent messages go to stderr.
Example:
  shoal agent --name a --bind 127.0.0.1:7946 --http 127.0.0.1:7373 --meta role=web
  shoal agent --name b --bind 127.0.0.1:7947 --join 127.0.0.1:7946`;

const PROFILES: readonly ConfigPreset[] = ["lan", "wan", "local"];

function keyArg(text: string): Uint8Array {
  try {
    return parseKey(text);
  } catch (error) {
    if (error instanceof KeyringError) throw new UsageError(`--key: ${error.message}`);
    throw error;
  }
}

/** What the command line asks for: agent options and the output mode. */
export interface AgentCommandOptions extends AgentOptions {
  /** Print events as JSON lines. */
  readonly json: boolean;
  /** `--http-allow-host`: more names for the HTTP API's `allowedHosts`. */
  readonly httpAllowedHosts: readonly string[];
  /** False with `--http-public-reads`: the HTTP API's `authenticateReads`. */
  readonly httpAuthenticateReads: boolean;
}

const OPTIONS = {
  name: { type: "string" },
  bind: { type: "string", default: "0.0.0.0:7946" },
  advertise: { type: "string" },
  join: { type: "string", multiple: true, default: [] as string[] },
  profile: { type: "string", default: "lan" },
  meta: { type: "string", multiple: true, default: [] as string[] },
  key: { type: "string", multiple: true, default: [] as string[] },
  label: { type: "string" },
  "data-dir": { type: "string" },
  http: { type: "string" },
  "http-token": { type: "string" },
  "http-public-reads": { type: "boolean", default: false },
  "http-allow-host": { type: "string", multiple: true, default: [] as string[] },
  "allow-cidr": { type: "string", multiple: true, default: [] as string[] },
  tune: { type: "string", multiple: true, default: [] as string[] },
  serf: { type: "boolean", default: false },
  json: { type: "boolean", default: false },
} as const satisfies Options;

/** Turn the parsed command line into agent options; every mistake is a {@linkcode UsageError}. */
export async function agentOptions(
  values: ParsedArgs<typeof OPTIONS>["values"],
): Promise<AgentCommandOptions> {
  const remembered = values["data-dir"]
    ? await loadState(values["data-dir"]).catch(() => undefined)
    : undefined;
  const name = values.name ?? remembered?.name ?? hostname();
  if (name === "") throw new UsageError("--name must not be empty");
  const profile = values.profile as ConfigPreset;
  if (!PROFILES.includes(profile)) {
    throw new UsageError(`--profile must be one of ${PROFILES.join(", ")}, got "${profile}"`);
  }
  const join = values.join.flatMap((j) => j.split(",")).map((j) => j.trim()).filter(Boolean);
  const check = (flag: string, addr: string) => {
    try {
      if (flag === "--join") parseSeed(addr);
      else parseAddress(addr, flag === "--http" ? 7373 : 7946);
    } catch (error) {
      if (error instanceof AddressError) throw new UsageError(`${flag}: ${error.message}`);
      throw error;
    }
  };
  check("--bind", values.bind);
  if (values.advertise) check("--advertise", values.advertise);
  for (const j of join) check("--join", j);
  if (values.http) check("--http", values.http);
  let tags: Tags;
  try {
    tags = parseTagArgs(values.meta);
    encodeTags(tags); // size check
  } catch (error) {
    if (error instanceof TagError) throw new UsageError(error.message);
    throw error;
  }
  const label = values.label ?? "";
  if (new TextEncoder().encode(label).length > LABEL_MAX_SIZE) {
    throw new UsageError(`--label must be at most ${LABEL_MAX_SIZE} bytes`);
  }
  const cidrs = values["allow-cidr"] ?? [];
  const tune = { ...parseTune(values.tune), ...(cidrs.length ? { allowedCidrs: cidrs } : {}) };
  try {
    resolveConfig(profile, tune);
  } catch (error) {
    if (error instanceof ConfigError) {
      const flag = error.message.startsWith("allowedCidrs") ? "--allow-cidr" : "--tune";
      throw new UsageError(`${flag}: ${error.message}`);
    }
    throw error;
  }
  const token = values["http-token"] ?? process.env.SHOAL_HTTP_TOKEN ?? "";
  const allowedHosts = values["http-allow-host"].map((name) => {
    try {
      return allowedHostName(name);
    } catch (error) {
      throw new UsageError(`--http-allow-host: ${(error as Error).message}`);
    }
  });
  return {
    name,
    bind: values.bind,
    advertise: values.advertise,
    join,
    profile,
    tune,
    tags,
    keys: values.key.map(keyArg),
    label,
    dataDir: values["data-dir"],
    http: values.http,
    httpToken: token || undefined,
    httpAllowedHosts: allowedHosts,
    httpAuthenticateReads: !values["http-public-reads"],
    serf: values.serf,
    json: values.json,
  };
}

const log = (line: string) => console.error(`shoal agent: ${line}`);

async function run(options: AgentCommandOptions): Promise<number> {
  let agent: Agent;
  try {
    agent = await startAgent(options);
  } catch (error) {
    if (error instanceof AgentBindError) throw new CommandError(error.message);
    if (error instanceof KeyringError || error instanceof TagError) {
      throw new UsageError(error.message);
    }
    throw error;
  }
  const node = agent.node;
  node.onEvent((event) => {
    console.log(options.json ? JSON.stringify(eventJson(event)) : eventLine(eventJson(event)));
  });
  agent.serf?.onEvent((e) => {
    const payload = new TextDecoder().decode(e.payload);
    const time = new Date().toISOString();
    console.log(
      options.json
        ? JSON.stringify({ type: e.type, name: e.name, ltime: e.ltime, payload, time })
        : `${time} ${e.type === "user" ? "event  " : "query  "} ${e.name} ${
          JSON.stringify(payload)
        }`,
    );
  });
  log(
    `${node.name} listening on ${node.address.host}:${node.address.port} (udp: ${agent.transports.datagram}, tcp: ${
      agent.transports.stream ?? "off"
    })`,
  );
  if (agent.http) {
    const host = agent.http.host.includes(":") ? `[${agent.http.host}]` : agent.http.host;
    log(`http api and dashboard on http://${host}:${agent.http.port}/`);
  }
  const seeds = [...new Set([...(options.join ?? []), ...agent.rejoined])];
  if (seeds.length) log(`joining ${seeds.join(", ")}`);

  let signals = 0;
  const onSignal = (signal: string) => {
    if (++signals > 1) {
      log(`${signal} again: stopping without waiting`);
      process.exit(1);
    }
    log(`${signal}: leaving the cluster (press Ctrl-C again to force)`);
    agent.shutdown({ leave: true }).catch(() => {});
  };
  const onInt = () => onSignal("SIGINT");
  const onTerm = () => onSignal("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  try {
    await agent.done;
  } finally {
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
  }
  log(`${node.name} left; bye`);
  return 0;
}

/** `shoal agent`. */
export const agentCommand: Command = defineCommand({
  name: "agent",
  summary: "run a cluster member (until Ctrl-C, then leave)",
  help: HELP,
  options: OPTIONS,
  async run({ values }) {
    return await run(await agentOptions(values));
  },
});
