/**
 * Command-line plumbing shared by every `shoal` command: usage errors (exit 2) and turning
 * `node:util` `parseArgs` failures into one-line messages.
 *
 * @module
 */

/** A command-line mistake: reported in one line, exit status 2. */
export class UsageError extends Error {
  /** Create a usage error. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** A failure at run time (agent unreachable, address in use): exit status 1. */
export class CommandError extends Error {
  /** Create a command error. */
  constructor(message: string) {
    super(message);
    this.name = "CommandError";
  }
}

/**
 * Run `parse` (a `parseArgs` call) and turn its errors into {@linkcode UsageError}s with
 * short messages.
 *
 * @example
 * ```ts
 * import { parseArgs } from "node:util";
 * import { parsing } from "./usage.ts";
 * const { values } = parsing(() =>
 *   parseArgs({ args: ["--json"], options: { json: { type: "boolean" } } })
 * );
 * ```
 */
export function parsing<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    const e = error as Error & { code?: string };
    const quoted = /'([^']*)'/.exec(e.message ?? "")?.[1] ?? "";
    switch (e.code) {
      case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
        throw new UsageError(`unknown option ${quoted}`);
      case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE": {
        const flag = quoted.replace(/ <value>$/, "").split(", ").pop() ?? quoted;
        throw new UsageError(
          /argument missing/.test(e.message)
            ? `option ${flag} needs a value`
            : `option ${flag} takes no value`,
        );
      }
      case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
        throw new UsageError(`unexpected argument ${quoted}`);
      default:
        throw error;
    }
  }
}
