/**
 * The shape of a `shoal` subcommand.
 *
 * @module
 */

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
