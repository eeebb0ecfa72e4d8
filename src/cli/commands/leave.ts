/**
 * `shoal leave`: make a running agent leave the cluster gracefully and shut down.
 *
 * @module
 */

import { AgentClient } from "../client.ts";
import { type Command, defineCommand } from "../command.ts";

const HELP = `Usage: shoal leave [options]

Make a running agent leave the cluster gracefully (others see it as "left", not "dead"),
then shut down.

Options:
  --http HOST:PORT     the agent's HTTP address (default $SHOAL_HTTP_ADDR or 127.0.0.1:7373)
  --token TOKEN        the agent's --http-token (default $SHOAL_HTTP_TOKEN)
  -h, --help           show this help`;

/** `shoal leave`. */
export const leaveCommand: Command = defineCommand({
  name: "leave",
  summary: "make a running agent leave gracefully and stop",
  help: HELP,
  options: {
    http: { type: "string" },
    token: { type: "string" },
  },
  async run({ values }) {
    const client = new AgentClient(values.http, values.token);
    const body = await client.post("/v1/leave", {}) as { name?: string };
    console.log(`${body.name ?? "the agent"} left the cluster`);
    return 0;
  },
});
