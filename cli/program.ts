import { Command } from './commander.js';
import { commandModules } from './commands/index.js';
import { reportError } from './cli-error.js';
import { packageVersion } from './package-info.js';

/**
 * The `d7y` command tree; each command lives in its own file under commands/. Given the command
 * line, a run of a known command loads only that command's file; anything else (help, a typo that
 * deserves a suggestion) loads them all.
 */
export async function buildProgram(argv?: string[]): Promise<Command> {
  const program = new Command('d7y')
    .description('P2P file and image distribution: the origin serves each byte about once, however many hosts download it')
    .version(packageVersion(), '-v, --version')
    .showHelpAfterError('(run with --help for usage)')
    .showSuggestionAfterError(true)
    .exitOverride();
  program.configureOutput({ outputError: (str, write) => write(str.replace(/^error:/, 'd7y: error:')) });
  const first = argv?.[2];
  const only = first === undefined ? undefined : commandModules.find((m) => m.names.includes(first));
  const registrars = await Promise.all((only ? [only] : commandModules).map((m) => m.load()));
  for (const register of registrars) register(program);
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
    await (await buildProgram(argv)).parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    return reportError(err);
  }
}
