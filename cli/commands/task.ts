import { Command, Option } from 'commander';
import { parseByteSize, validatePieceLength } from '../../core/task/piece-length.js';
import { DEFAULT_FILTERED_QUERY_PARAMS, taskId } from '../../core/task/task-id.js';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function registerTaskCommand(program: Command): void {
  const task = program.command('task').description('task utilities');
  task.command('id')
    .description('print the task id of a URL (sha256 of the filtered URL, tag, application, piece length)')
    .argument('<url>', 'the URL of the file')
    .option('--tag <tag>', 'task tag')
    .option('--application <name>', 'application name')
    .option('--piece-length <size>', 'piece length chosen by the user (4MiB..64MiB), e.g. 8MiB')
    .addOption(new Option('--filtered-query-param <param>', 'query param left out of the task id (repeatable); replaces the defaults').argParser(collect))
    .action((url: string, opts: { tag?: string; application?: string; pieceLength?: string; filteredQueryParam?: string[] }) => {
      const pieceLength = opts.pieceLength === undefined ? undefined : validatePieceLength(parseByteSize(opts.pieceLength));
      process.stdout.write(`${taskId({
        url,
        tag: opts.tag,
        application: opts.application,
        pieceLength,
        filteredQueryParams: opts.filteredQueryParam ?? DEFAULT_FILTERED_QUERY_PARAMS,
      })}\n`);
    });
}
