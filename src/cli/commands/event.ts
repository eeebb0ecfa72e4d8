/**
 * `shoal event`: send a serf user event through a running `shoal agent --serf`.
 *
 * @module
 */

import { AgentClient } from "../client.ts";
import { type Command, defineCommand } from "../command.ts";
import { UsageError } from "../usage.ts";

const HELP = `Usage: shoal event [options] NAME [PAYLOAD]

Send a serf user event to every member of the cluster (serf agents included) through a
running agent started with --serf. NAME and PAYLOAD together hold at most 512 bytes.

Options:
  --http HOST:PORT     the agent's HTTP address (default $SHOAL_HTTP_ADDR or 127.0.0.1:7373)
  --token TOKEN        the agent's --http-token (default $SHOAL_HTTP_TOKEN)
  --no-coalesce        receivers must deliver every event of this name (by default a
                       burst may be coalesced to its newest, as with serf event)
  -h, --help           show this help`;

/** `shoal event`. */
export const eventCommand: Command = defineCommand({
  name: "event",
  summary: "send a serf user event (agent --serf)",
  help: HELP,
  options: {
    http: { type: "string" },
    token: { type: "string" },
    "no-coalesce": { type: "boolean", default: false },
  },
  positionals: true,
  async run({ values, positionals }) {
    if (positionals.length < 1 || positionals.length > 2) {
      throw new UsageError("give a NAME and at most one PAYLOAD");
    }
    const [name, payload = ""] = positionals;
    if (name === "") throw new UsageError("NAME must not be empty");
    const size = new TextEncoder().encode(name + payload).length;
    if (size > 512) throw new UsageError(`NAME and PAYLOAD take ${size} bytes, more than 512`);
    const client = new AgentClient(values.http, values.token);
    await client.post("/v1/event", { name, payload, coalesce: !values["no-coalesce"] });
    console.log(`event ${JSON.stringify(name)} sent`);
    return 0;
  },
});
