import { CommanderError } from './commander.js';
import { D7yError } from '../core/errors/d7y-error.js';

/** Exit codes: 1 for operational failures, 2 for usage mistakes (bad flags, bad input). */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

const USAGE_CODES = new Set(['D7Y_INVALID_ARGUMENT', 'D7Y_CONFIG_INVALID', 'D7Y_CONFIG_NOT_FOUND', 'D7Y_SOURCE_UNSUPPORTED_SCHEME']);

/** The exit code of an error, as reportError would return it (without printing anything). */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT_USAGE;
  if (err instanceof D7yError) return USAGE_CODES.has(err.code) ? EXIT_USAGE : EXIT_FAILURE;
  return EXIT_FAILURE;
}

/**
 * Prints an error the way the CLI always does: `d7y: <message>` and, when known, `fix: <what to do>`.
 * Never a stack trace, unless D7Y_DEBUG is set. Returns the exit code.
 */
export function reportError(err: unknown, write: (s: string) => void = (s) => process.stderr.write(s)): number {
  if (err instanceof CommanderError) return exitCodeOf(err);
  if (err instanceof D7yError) {
    write(`d7y: ${err.message}\n`);
    if (err.fix) write(`  fix: ${err.fix}\n`);
    if (process.env.D7Y_DEBUG && err.cause) write(`  cause: ${String((err.cause as Error)?.stack ?? err.cause)}\n`);
    return exitCodeOf(err);
  }
  const message = err instanceof Error ? err.message : String(err);
  write(`d7y: unexpected error: ${message}\n`);
  write('  fix: run again with D7Y_DEBUG=1 for details, and report it if it persists\n');
  if (process.env.D7Y_DEBUG && err instanceof Error) write(`${err.stack}\n`);
  return EXIT_FAILURE;
}
