/**
 * `shoal keygen`: print a new random encryption key for `--key`.
 *
 * @module
 */

import { toBase64 } from "../../http/json.ts";
import { type Command, defineCommand } from "../command.ts";

const HELP = `Usage: shoal keygen

Print a new random 32-byte gossip encryption key (AES-256), base64-encoded, for
'shoal agent --key'. Every member of a cluster needs the same key.

Options:
  -h, --help           show this help`;

/** `shoal keygen`. */
export const keygenCommand: Command = defineCommand({
  name: "keygen",
  summary: "print a new random encryption key",
  help: HELP,
  options: {},
  run() {
    console.log(toBase64(crypto.getRandomValues(new Uint8Array(32))));
    return 0;
  },
});
