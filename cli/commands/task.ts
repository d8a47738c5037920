import { Command, Option } from '../commander.js';
import { parseByteSize, validatePieceLength } from '../../core/task/piece-length.js';
import { DEFAULT_FILTERED_QUERY_PARAMS, taskId } from '../../core/task/task-id.js';
import { addPeerOptions } from '../peer-options.js';
import type { TaskCommandOptions } from '../task-actions.js';

/** The code of ls, stat and rm (the peer client, or an embedded peer), loaded when one of them runs. */
const actions = () => import('../task-actions.js');

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function registerTaskCommand(program: Command): void {
  const task = program.command('task').description('the tasks of the local peer (list, inspect, remove) and task ids');
  addPeerOptions(task.command('ls')
    .description('list the tasks the local peer holds, most recently used first')
    .option('--json', 'machine-readable output')
    .action(async (opts: TaskCommandOptions) => (await actions()).listTasks(opts)), task);
  addPeerOptions(task.command('stat')
    .description('show one task: its fields, and where its pieces came from (back-to-source, remote peer, local peer)')
    .argument('<id>', 'task id (64 hex characters, as `d7y task ls` shows it)')
    .option('--json', 'machine-readable output (with every piece)')
    .action(async (id: string, opts: TaskCommandOptions) => (await actions()).statTask(id, opts)), task);
  addPeerOptions(task.command('rm')
    .description('delete a task\'s pieces and record from the local peer (refused while it downloads)')
    .argument('<id>', 'task id (64 hex characters, as `d7y task ls` shows it)')
    .action(async (id: string, opts: TaskCommandOptions) => (await actions()).removeTask(id, opts)), task);
  task.command('id')
    .description('print the task id of a URL (sha256 of the filtered URL, tag, application, piece length)')
    .argument('<url>', 'the URL of the file')
    .option('--tag <tag>', 'task tag')
    .option('--application <name>', 'application name')
    .option('--piece-length <size>', 'piece length chosen by the user (4MiB..64MiB), e.g. 8MiB')
    .addOption(new Option('--filtered-query-param <param>', 'query param left out of the task id (repeatable); replaces the defaults').argParser(collect))
    .action((url: string, opts: { tag?: string; application?: string; pieceLength?: string; filteredQueryParam?: string[] }) => {
      const pieceLength = opts.pieceLength === undefined ? undefined : validatePieceLength(parseByteSize(opts.pieceLength, '--piece-length'));
      process.stdout.write(`${taskId({
        url,
        tag: opts.tag,
        application: opts.application,
        pieceLength,
        filteredQueryParams: opts.filteredQueryParam ?? DEFAULT_FILTERED_QUERY_PARAMS,
      })}\n`);
    });
}
