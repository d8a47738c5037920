import type { Command } from '../commander.js';
import { peerFlags } from './cache.js';
import type { PushOptions } from '../push-actions.js';

/** `d7y push`. The code is loaded when the command runs. */
export function registerPushCommand(program: Command): void {
  const push = program.command('push')
    .description('put a file into the persistent cache and have the peers of a scope fetch it now, reporting each peer')
    .argument('<path>', 'the file to push')
    .requiredOption('--to <scope>', 'which peers: all, a number of them (3), a percentage (50%), or IPs (10.0.0.5,10.0.0.6)')
    .option('--id <id>', 'name the task yourself (as cache import --id)')
    .option('--ttl <duration>', 'how long every copy is kept, 5m to 7d', '1h')
    .option('--tag <tag>', 'task tag (part of the task id)')
    .option('--application <name>', 'application name (part of the task id)')
    .option('--timeout <duration>', 'how long to wait for the peers\' copies', '10m')
    .option('--json', 'machine-readable output');
  peerFlags(push)
    .action(async (path: string, opts: PushOptions) => (await import('../push-actions.js')).runPush(path, opts));
}
