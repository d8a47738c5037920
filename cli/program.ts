import { Command } from 'commander';
import { commandRegistrars } from './commands/index.js';
import { reportError } from './cli-error.js';
import { packageVersion } from './package-info.js';

/** The `d7y` command tree; each command lives in its own file under commands/. */
export function buildProgram(): Command {
  const program = new Command('d7y')
    .description('P2P file and image distribution: the origin serves each byte about once, however many hosts download it')
    .version(packageVersion(), '-v, --version')
    .showHelpAfterError('(run with --help for usage)')
    .showSuggestionAfterError(true)
    .exitOverride();
  program.configureOutput({ outputError: (str, write) => write(str.replace(/^error:/, 'd7y: error:')) });
  for (const register of commandRegistrars) register(program);
  for (const cmd of program.commands) applyExitOverride(cmd);
  return program;
}

function applyExitOverride(cmd: Command): void {
  cmd.exitOverride();
  cmd.showHelpAfterError('(run with --help for usage)');
  for (const sub of cmd.commands) applyExitOverride(sub);
}

/** Runs the CLI; returns the process exit code instead of exiting, so output is flushed. */
export async function runProgram(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    return reportError(err);
  }
}
