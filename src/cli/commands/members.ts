/**
 * `shoal members`: list the members a running agent knows.
 *
 * @module
 */

import { MEMBER_STATES } from "../../http/health.ts";
import type { MemberJson } from "../../http/json.ts";
import { AgentClient } from "../client.ts";
import { type Command, defineCommand } from "../command.ts";
import { membersTable } from "../format.ts";
import { UsageError } from "../usage.ts";

const HELP = `Usage: shoal members [options]

List the members a running agent knows, as a table (or JSON).

Options:
  --http HOST:PORT     the agent's HTTP address (default $SHOAL_HTTP_ADDR or 127.0.0.1:7373)
  --status STATE       only members in this state: alive, suspect, unreachable, dead
                       or left
                       (repeatable, or comma-separated)
  --json               print {"members": [...]} as JSON
  -h, --help           show this help`;

const STATES: readonly string[] = MEMBER_STATES;

/** `shoal members`. */
export const membersCommand: Command = defineCommand({
  name: "members",
  summary: "list the members a running agent knows",
  help: HELP,
  options: {
    http: { type: "string" },
    status: { type: "string", multiple: true, default: [] },
    json: { type: "boolean", default: false },
  },
  async run({ values }) {
    const states = values.status.flatMap((s) => s.split(",")).map((s) => s.trim()).filter(
      Boolean,
    );
    for (const s of states) {
      if (!STATES.includes(s)) {
        throw new UsageError(`--status must be one of ${STATES.join(", ")}, got "${s}"`);
      }
    }
    const client = new AgentClient(values.http);
    const query = states.length ? `?status=${states.join(",")}` : "";
    const body = await client.get(`/v1/members${query}`) as { members: MemberJson[] };
    console.log(values.json ? JSON.stringify(body) : membersTable(body.members));
    return 0;
  },
});
