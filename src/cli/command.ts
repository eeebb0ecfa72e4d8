/**
 * The shape of a `shoal` subcommand, and the one scaffold every command is built with.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import { parsing } from "./usage.ts";

/** One subcommand: its help text and what it does. */
export interface Command {
  /** The word after `shoal`. */
  readonly name: string;
  /** One line for `shoal --help`. */
  readonly summary: string;
  /** The full `--help` text. */
  readonly help: string;
  /** Run with the arguments after the command name; resolves to the exit status. */
  run(args: string[]): Promise<number>;
}

/** A `parseArgs` options table. */
export type Options = NonNullable<ParseArgsConfig["options"]>;

/** The `-h, --help` option every command takes. */
const HELP_OPTION = { help: { type: "boolean", short: "h", default: false } } as const;

/** The parsed command line a {@linkcode CommandSpec.run} receives. */
export type ParsedArgs<O extends Options> = ReturnType<
  typeof parseArgs<{
    args: string[];
    options: O & typeof HELP_OPTION;
    strict: true;
    allowPositionals: boolean;
  }>
>;

/** What a command declares: its words, its options and what it does with them. */
export interface CommandSpec<O extends Options> {
  /** The word after `shoal`. */
  readonly name: string;
  /** One line for `shoal --help`. */
  readonly summary: string;
  /** The full `--help` text. */
  readonly help: string;
  /** The `parseArgs` options, without `--help` (every command gets that). */
  readonly options: O;
  /** Accept positional arguments (default false: one is a usage error). */
  readonly positionals?: boolean;
  /**
   * Do the work; resolves to the exit status. Throw `UsageError` for a command-line mistake
   * (exit 2) or `CommandError` for a run-time failure (exit 1).
   */
  run(parsed: ParsedArgs<O>): Promise<number> | number;
}

/**
 * A {@linkcode Command} from its spec: parses the arguments strictly (mistakes become
 * `UsageError`s), prints the help and exits 0 on `-h`/`--help`, else runs the command.
 */
export function defineCommand<const O extends Options>(spec: CommandSpec<O>): Command {
  return {
    name: spec.name,
    summary: spec.summary,
    help: spec.help,
    async run(args: string[]): Promise<number> {
      const parsed = parsing(() =>
        parseArgs({
          args,
          options: { ...spec.options, ...HELP_OPTION },
          strict: true,
          allowPositionals: spec.positionals ?? false,
        })
      ) as ParsedArgs<O>;
      if ((parsed.values as { help?: boolean }).help) {
        console.log(spec.help);
        return 0;
      }
      return await spec.run(parsed);
    },
  };
}
