/**
 * # shoal — the command-line agent
 *
 * A serf-like CLI: `shoal agent` runs a cluster member (with an optional HTTP API and live
 * dashboard); `shoal members`, `join`, `leave` and `monitor` talk to a running agent;
 * `shoal keygen` makes an encryption key.
 *
 * ```sh
 * deno run -A jsr:@shoal/swim/cli agent --name a --bind 127.0.0.1:7946 --http 127.0.0.1:7373
 * deno run -A jsr:@shoal/swim/cli members
 * ```
 *
 * From a checkout: `deno task shoal ...` or `bun run shoal ...`. Every command takes
 * `--help`. Exit status: 0 on success, 1 when something failed at run time (agent
 * unreachable, address in use), 2 for a command-line mistake.
 *
 * @module
 */

import process from "node:process";
import { pathToFileURL } from "node:url";
import type { Command } from "./command.ts";
import { agentCommand } from "./commands/agent.ts";
import { eventCommand } from "./commands/event.ts";
import { joinCommand } from "./commands/join.ts";
import { keygenCommand } from "./commands/keygen.ts";
import { leaveCommand } from "./commands/leave.ts";
import { membersCommand } from "./commands/members.ts";
import { monitorCommand } from "./commands/monitor.ts";
import { queryCommand } from "./commands/query.ts";
import { CommandError, UsageError } from "./usage.ts";

/** The version `shoal --version` prints. */
export const VERSION = "0.1.0";

const COMMANDS: readonly Command[] = [
  agentCommand,
  membersCommand,
  joinCommand,
  leaveCommand,
  monitorCommand,
  eventCommand,
  queryCommand,
  keygenCommand,
];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "Usage: shoal <command> [options]",
    "",
    "SWIM cluster membership, speaking HashiCorp memberlist's protocol.",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Run 'shoal <command> --help' for a command's options.",
  ].join("\n");
}

/**
 * Run the CLI with `args` (the words after `shoal`) and resolve to the exit status: 0 on
 * success, 1 on a run-time failure, 2 on a usage mistake. Errors are reported on stderr in
 * one line; nothing throws.
 *
 * @example
 * ```ts ignore
 * import { main } from "@shoal/swim/cli";
 * const status = await main(["members", "--json"]);
 * ```
 */
export async function main(args: readonly string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined) {
    console.error(usage());
    return 2;
  }
  if (name === "--help" || name === "-h" || name === "help") {
    const command = COMMANDS.find((c) => c.name === rest[0]);
    console.log(command ? command.help : usage());
    return 0;
  }
  if (name === "--version" || name === "version") {
    console.log(`shoal ${VERSION}`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    console.error(`shoal: unknown command "${name}" (run 'shoal --help' for the list)`);
    return 2;
  }
  try {
    return await command.run([...rest]);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`shoal ${command.name}: ${error.message} (see 'shoal ${command.name} --help')`);
      return 2;
    }
    if (error instanceof CommandError) {
      console.error(`shoal ${command.name}: ${error.message}`);
      return 1;
    }
    console.error(`shoal ${command.name}: ${(error as Error)?.message ?? String(error)}`);
    return 1;
  }
}

/** True when this module is the program being run (Deno, Bun, or a Node bundle of it). */
function isEntryPoint(): boolean {
  const meta = import.meta as ImportMeta & { main?: boolean };
  if (typeof meta.main === "boolean") return meta.main;
  const script = process.argv[1];
  return script !== undefined && pathToFileURL(script).href === import.meta.url;
}

if (isEntryPoint()) {
  const status = await main(process.argv.slice(2));
  process.exit(status);
}
