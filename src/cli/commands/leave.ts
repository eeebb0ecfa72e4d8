/**
 * `shoal leave`: make a running agent leave the cluster gracefully and shut down.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { AgentClient } from "../client.ts";
import type { Command } from "../command.ts";
import { parsing } from "../usage.ts";

const HELP = `Usage: shoal leave [options]

Make a running agent leave the cluster gracefully (others see it as "left", not "dead"),
then shut down.

Options:
  --http HOST:PORT     the agent's HTTP address (default $SHOAL_HTTP_ADDR or 127.0.0.1:7373)
  --token TOKEN        the agent's --http-token (default $SHOAL_HTTP_TOKEN)
  -h, --help           show this help`;

async function run(args: string[]): Promise<number> {
  const { values } = parsing(() =>
    parseArgs({
      args,
      options: {
        http: { type: "string" },
        token: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    })
  );
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const client = new AgentClient(values.http, values.token);
  const body = await client.post("/v1/leave", {}) as { name?: string };
  console.log(`${body.name ?? "the agent"} left the cluster`);
  return 0;
}

/** `shoal leave`. */
export const leaveCommand: Command = {
  name: "leave",
  summary: "make a running agent leave gracefully and stop",
  help: HELP,
  run,
};
