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
import { decodeSerfTags, TAG_MAGIC } from "../../serf/tags.ts";

/** A member whose metadata is serf's tag encoding, with the tags decoded. */
function withSerfTags(m: MemberJson): MemberJson {
  if (m.meta !== null || m.metaBase64 === undefined) return m;
  const bytes = Uint8Array.from(atob(m.metaBase64), (c) => c.charCodeAt(0));
  if (bytes[0] !== TAG_MAGIC) return m;
  try {
    const { metaBase64: _, ...rest } = m;
    return { ...rest, meta: decodeSerfTags(bytes) };
  } catch {
    return m;
  }
}

const HELP = `Usage: shoal members [options]

List the members a running agent knows, as a table (or JSON).

Options:
  --http HOST:PORT     the agent's HTTP address (default $SHOAL_HTTP_ADDR or 127.0.0.1:7373)
  --status STATE       only members in this state: alive, suspect, unreachable, dead
                       or left
                       (repeatable, or comma-separated)
  --tag KEY=REGEXP     only members whose tag KEY matches REGEXP (anchored, as serf
                       members -tag; repeatable: all must match). Serf members' tags
                       are read too.
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
    tag: { type: "string", multiple: true, default: [] },
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
    const filters = values.tag.map((t): [string, RegExp] => {
      const eq = t.indexOf("=");
      if (eq <= 0) throw new UsageError(`--tag must be KEY=REGEXP, got "${t}"`);
      try {
        return [t.slice(0, eq), new RegExp(`^(?:${t.slice(eq + 1)})$`)];
      } catch (error) {
        throw new UsageError(`--tag ${t}: ${(error as Error).message}`);
      }
    });
    const client = new AgentClient(values.http);
    const query = states.length ? `?status=${states.join(",")}` : "";
    const body = await client.get(`/v1/members${query}`) as { members: MemberJson[] };
    const members = body.members.map(withSerfTags).filter((m) =>
      filters.every(([k, re]) => m.meta !== null && k in m.meta && re.test(m.meta[k]))
    );
    console.log(values.json ? JSON.stringify({ members }) : membersTable(members));
    return 0;
  },
});
