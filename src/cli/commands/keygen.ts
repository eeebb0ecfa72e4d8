/**
 * `shoal keygen`: print a new random encryption key for `--key`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { toBase64 } from "../../agent/json.ts";
import type { Command } from "../command.ts";
import { parsing } from "../usage.ts";

const HELP = `Usage: shoal keygen

Print a new random 32-byte gossip encryption key (AES-256), base64-encoded, for
'shoal agent --key'. Every member of a cluster needs the same key.

Options:
  -h, --help           show this help`;

function run(args: string[]): Promise<number> {
  const { values } = parsing(() =>
    parseArgs({ args, options: { help: { type: "boolean", short: "h", default: false } } })
  );
  console.log(values.help ? HELP : toBase64(crypto.getRandomValues(new Uint8Array(32))));
  return Promise.resolve(0);
}

/** `shoal keygen`. */
export const keygenCommand: Command = {
  name: "keygen",
  summary: "print a new random encryption key",
  help: HELP,
  run,
};
