import type { Command } from '../commander.js';

/** `d7y version`: what is running, for bug reports and fleet checks. */
export function registerVersionCommand(program: Command): void {
  program.command('version')
    .description('show the d7y version, its git commit (in a git checkout), the Node version and the platform')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => (await import('../version-info.js')).printVersion(opts));
}
