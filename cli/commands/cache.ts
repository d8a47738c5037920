import { Command } from '../commander.js';
import { D7yError } from '../../core/errors/d7y-error.js';
import type { CacheCommandOptions, CacheImportOptions, CacheExportOptions } from '../cache-actions.js';
import type { CacheManagerOptions } from '../cache-manager-actions.js';

/** The code of the cache subcommands, loaded when one of them runs. */
const actions = () => import('../cache-actions.js');
const onManager = () => import('../cache-manager-actions.js');

type Either = CacheCommandOptions & CacheManagerOptions;

/** Refuses the manager's flags on a command that goes to the local daemon. */
function local(opts: Either): Either {
  const stray = opts.token !== undefined ? '--token' : opts.cluster !== undefined ? '--cluster' : undefined;
  if (stray) throw new D7yError('D7Y_INVALID_ARGUMENT', `${stray} goes with --manager`, { fix: `add --manager <url>, or leave ${stray} out` });
  return opts;
}

/** `--manager` (and its token): the command goes through the manager's open API instead of the local daemon. */
function managerFlags(cmd: Command): Command {
  return cmd
    .option('--manager <url>', "through the manager's open API (every scheduler cluster of the tenant) instead of the local daemon")
    .option('--token <token>', 'with --manager: personal access token with scope persistent_cache (default $D7Y_TOKEN, else the session of d7y login)');
}

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
  managerFlags(peerFlags(cache.command('stat')
    .description('show a task: size, pieces, replicas and the hosts holding them, TTL left, created')
    .argument('<id>', 'task id or name')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: Either) => (opts.manager ? (await onManager()).statCacheOnManager(id, opts) : (await actions()).statCache(id, local(opts))))));
  managerFlags(peerFlags(cache.command('rm')
    .description('delete a task from the whole cluster (every copy)')
    .argument('<id>', 'task id or name')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: Either) => (opts.manager ? (await onManager()).removeCacheOnManager(id, opts) : (await actions()).removeCache(id, local(opts))))));
  managerFlags(peerFlags(cache.command('list')
    .alias('ls')
    .description('list the persistent-cache tasks of the cluster (with --manager: of every scheduler cluster of the tenant)')
    .option('--cluster <id>', 'with --manager: only this scheduler cluster')
    .option('--json', 'machine-readable output')
    .action(async (opts: Either) => (opts.manager ? (await onManager()).listCacheOnManager(opts) : (await actions()).listCache(local(opts))))));
}
