/**
 * `shoal query`: ask the cluster a serf query through a running `shoal agent --serf`, and
 * print the acks and responses.
 *
 * @module
 */

import { AgentClient } from "../client.ts";
import { type Command, defineCommand } from "../command.ts";
import { UsageError } from "../usage.ts";

const HELP = `Usage: shoal query [options] NAME [PAYLOAD]

Send a serf query through a running agent started with --serf and print who acked and
what each member answered, once the timeout passes.

Options:
  --http HOST:PORT     the agent's HTTP address (default $SHOAL_HTTP_ADDR or 127.0.0.1:7373)
  --token TOKEN        the agent's --http-token (default $SHOAL_HTTP_TOKEN)
  --node NAME          only this member answers (repeatable)
  --tag KEY=REGEXP     only members whose tag KEY matches REGEXP answer (repeatable)
  --timeout D          how long to wait, e.g. 500ms, 3s, 1m (default: serf's, from the
                       gossip interval and the cluster size)
  --json               print {"acks": [...], "responses": [{"from", "payload"}]}
  -h, --help           show this help`;

/** `--timeout` text (`500ms`, `3s`, `1m`, or plain milliseconds) in ms. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new UsageError(`--timeout must look like 500ms, 3s or 1m, got "${text}"`);
  const ms = Number(m[1]) * (m[2] === "s" ? 1000 : m[2] === "m" ? 60_000 : 1);
  if (!(ms >= 1) || ms > 300_000) throw new UsageError("--timeout must be 1 ms to 5 min");
  return Math.round(ms);
}

/** `shoal query`. */
export const queryCommand: Command = defineCommand({
  name: "query",
  summary: "ask a serf query and print the answers (agent --serf)",
  help: HELP,
  options: {
    http: { type: "string" },
    token: { type: "string" },
    node: { type: "string", multiple: true, default: [] as string[] },
    tag: { type: "string", multiple: true, default: [] as string[] },
    timeout: { type: "string" },
    json: { type: "boolean", default: false },
  },
  positionals: true,
  async run({ values, positionals }) {
    if (positionals.length < 1 || positionals.length > 2) {
      throw new UsageError("give a NAME and at most one PAYLOAD");
    }
    const [name, payload = ""] = positionals;
    if (name === "") throw new UsageError("NAME must not be empty");
    const filterTags: Record<string, string> = {};
    for (const t of values.tag) {
      const eq = t.indexOf("=");
      if (eq <= 0) throw new UsageError(`--tag must be KEY=REGEXP, got "${t}"`);
      filterTags[t.slice(0, eq)] = t.slice(eq + 1);
    }
    const timeout = values.timeout === undefined ? undefined : parseDuration(values.timeout);
    const client = new AgentClient(values.http, values.token);
    const body = await client.post("/v1/query", {
      name,
      payload,
      filterNodes: values.node,
      filterTags,
      ...(timeout === undefined ? {} : { timeout }),
    }) as { acks: string[]; responses: { from: string; payload: string }[] };
    if (values.json) {
      console.log(JSON.stringify(body));
      return 0;
    }
    for (const a of body.acks) console.log(`ack from ${a}`);
    for (const r of body.responses) console.log(`response from ${r.from}: ${r.payload}`);
    console.log(`${body.acks.length} acks, ${body.responses.length} responses`);
    return 0;
  },
});
