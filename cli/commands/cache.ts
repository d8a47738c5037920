import { Command } from 'commander';
import type { CacheCommandOptions, CacheImportOptions, CacheExportOptions } from '../cache-actions.js';

/** The code of the cache subcommands, loaded when one of them runs. */
const actions = () => import('../cache-actions.js');

/** The options that name the daemon of a persistent-cache command. */
export function peerFlags(cmd: Command): Command {
  return cmd
    .option('--socket <path>', "the daemon's local API socket (default: the peer's under --data-dir or ~/.d7y)")
    .option('-c, --config <file>', 'node config (YAML or JSON) naming the peer: its data dir and socket')
    .option('--data-dir <dir>', 'where the peer keeps its data (default ~/.d7y)');
}

export function registerCacheCommand(program: Command): void {
  const cache = program.command('cache')
    .description('the persistent cache: put a file into the P2P network with replicas and a TTL, and read it on any host (no origin)');
  peerFlags(cache.command('import')
    .description('import a file; prints its task id (from its content, tag, application and piece length, unless --id names it)')
    .argument('<path>', 'the file to import')
    .option('--id <id>', 'name the task yourself (64 hex characters are used as the task id)')
    .option('--replicas <n>', 'copies the scheduler keeps on peers, this one included', '2')
    .option('--ttl <duration>', 'how long every copy is kept, 5m to 7d (e.g. 1h, 3d)', '1h')
    .option('--tag <tag>', 'task tag (part of the task id)')
    .option('--application <name>', 'application name (part of the task id)')
    .option('--piece-length <size>', 'piece length, 4MiB..64MiB (part of the task id), e.g. 8MiB')
    .option('--no-progress', 'no progress bar')
    .option('--json', 'machine-readable output')
    .action(async (path: string, opts: CacheImportOptions) => (await actions()).importCache(path, opts)));
  peerFlags(cache.command('export')
    .description('write a persistent-cache task to a file or stdout, fetched from the peers holding it (never any origin)')
    .argument('<id>', 'task id or the name given with --id')
    .requiredOption('-O, --output <path>', 'the file to write, or - for stdout')
    .option('--overwrite', 'replace the output file if it exists')
    .option('--timeout <duration>', 'give up after this long (e.g. 10m)')
    .option('--no-progress', 'no progress bar')
    .option('--json', 'machine-readable output (with -O <file>)')
    .action(async (id: string, opts: CacheExportOptions) => (await actions()).exportCache(id, opts)));
  peerFlags(cache.command('stat')
    .description('show a task: size, pieces, replicas and the hosts holding them, TTL left, created')
    .argument('<id>', 'task id or name')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: CacheCommandOptions) => (await actions()).statCache(id, opts)));
  peerFlags(cache.command('rm')
    .description('delete a task from the whole cluster (every copy)')
    .argument('<id>', 'task id or name')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: CacheCommandOptions) => (await actions()).removeCache(id, opts)));
  peerFlags(cache.command('list')
    .alias('ls')
    .description('list the persistent-cache tasks of the cluster')
    .option('--json', 'machine-readable output')
    .action(async (opts: CacheCommandOptions) => (await actions()).listCache(opts)));
}
