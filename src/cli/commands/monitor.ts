/**
 * `shoal monitor`: stream a running agent's membership events until interrupted.
 *
 * @module
 */

import process from "node:process";
import type { EventJson } from "../../http/json.ts";
import { AgentClient } from "../client.ts";
import { type Command, defineCommand } from "../command.ts";
import { eventLine } from "../format.ts";
import { CommandError } from "../usage.ts";

const HELP = `Usage: shoal monitor [options]

Print a running agent's membership events as they happen, until Ctrl-C.

Options:
  --http HOST:PORT     the agent's HTTP address (default $SHOAL_HTTP_ADDR or 127.0.0.1:7373)
  --json               one JSON object per event (as 'shoal agent --json')
  -h, --help           show this help`;

/** `shoal monitor`. */
export const monitorCommand: Command = defineCommand({
  name: "monitor",
  summary: "stream a running agent's membership events",
  help: HELP,
  options: {
    http: { type: "string" },
    json: { type: "boolean", default: false },
  },
  async run({ values }) {
    const client = new AgentClient(values.http);
    const abort = new AbortController();
    const stop = () => abort.abort();
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    try {
      await client.events((event, data) => {
        if (event === "snapshot") {
          const snap = data as { self: string; members: unknown[] };
          console.error(`shoal monitor: following ${snap.self} (${snap.members.length} members)`);
        } else if (event === "member") {
          const e = data as EventJson;
          console.log(values.json ? JSON.stringify(e) : eventLine(e));
        }
      }, abort.signal);
    } finally {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
    }
    if (!abort.signal.aborted) throw new CommandError("the agent closed the event stream");
    return 0;
  },
});
