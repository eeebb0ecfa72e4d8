/**
 * `shoal join`: ask a running agent to join more members.
 *
 * @module
 */

import { AddressError, parseSeed } from "../../core/address.ts";
import { AgentClient } from "../client.ts";
import { type Command, defineCommand } from "../command.ts";
import { UsageError } from "../usage.ts";

const HELP = `Usage: shoal join [options] HOST:PORT...

Ask a running agent to announce itself to the given members (and so join their cluster).
HOST may be an IP address or a DNS name (the agent resolves it at every attempt).

Options:
  --http HOST:PORT     the agent's HTTP address (default $SHOAL_HTTP_ADDR or 127.0.0.1:7373)
  --token TOKEN        the agent's --http-token (default $SHOAL_HTTP_TOKEN)
  -h, --help           show this help`;

/** `shoal join`. */
export const joinCommand: Command = defineCommand({
  name: "join",
  summary: "ask a running agent to join more members",
  help: HELP,
  options: {
    http: { type: "string" },
    token: { type: "string" },
  },
  positionals: true,
  async run({ values, positionals }) {
    const addresses = positionals.flatMap((p) => p.split(",")).map((p) => p.trim()).filter(Boolean);
    if (addresses.length === 0) throw new UsageError("give at least one HOST:PORT to join");
    for (const a of addresses) {
      try {
        parseSeed(a);
      } catch (error) {
        if (error instanceof AddressError) throw new UsageError(error.message);
        throw error;
      }
    }
    const client = new AgentClient(values.http, values.token);
    await client.post("/v1/join", { addresses });
    console.log(`asked the agent to join ${addresses.join(", ")}`);
    return 0;
  },
});
