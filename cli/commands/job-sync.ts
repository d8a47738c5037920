import { Option, type Command } from '../commander.js';
import type { ManagerClient } from '../../core/protocol/manager/index.js';
import { renderTable } from '../table.js';
import { collect } from './get.js';
import { addManagerOptions, connectManager, type ManagerConnectionOptions } from '../manager-connection.js';

interface SyncView { id: string; name: string; source: string; schedule: string; state: string; mode?: string; scope: string; destination?: string; next_run_at: string | null }
interface SyncRunView { id: string; state: string; job_id: string | null; report: Record<string, number>; error: string | null; started_at: string }

type Opts = ManagerConnectionOptions & { json?: boolean };

function print(value: unknown, json: boolean | undefined, table: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : table());
}

const syncRow = (x: SyncView) => [x.id, x.name, x.schedule, x.state, x.mode === 'copy' ? `copy to ${x.destination}` : `warm ${x.scope}`, x.next_run_at ?? '-'];
const SYNC_HEAD = ['ID', 'NAME', 'SCHEDULE', 'STATE', 'DOES', 'NEXT RUN'];

/** `d7y job sync …`: the manager's cron sync jobs (PAT with scope job). */
export function registerJobSyncCommands(job: Command): void {
  const sync = job.command('sync').description('cron sync jobs: keep peers warm with a source tree, preheating only what changed');
  /** Commander calls an action with the arguments, the options and the command: the client and options first here. */
  const act = <O extends Opts>(fn: (client: ManagerClient, opts: O, id: string) => Promise<void>) => async (...args: unknown[]) => {
    const opts = args.at(-2) as O;
    const client = await connectManager(opts);
    try {
      await fn(client, opts, args[0] as string);
    } finally {
      await client.close();
    }
  };
  addManagerOptions(sync.command('create'))
    .description('create a sync job: on the cron schedule, preheat what changed in <source> since the last run (or, with --copy-to, have a seed peer copy it)')
    .argument('<source>', 'a listable source: s3://bucket/prefix/, gs://…, hdfs://…, a Maven group, a YUM repo, an OCI repository')
    .requiredOption('--schedule <cron>', 'cron schedule, e.g. "*/15 * * * *" (six fields: seconds first)')
    .option('--name <name>', 'a name (default: the source)')
    .option('--scope <scope>', 'single_seed_peer, all_seed_peers or all_peers', 'all_peers')
    .option('--count <n>', 'only n peers of the scope')
    .option('--percentage <p>', 'only p % of the peers of the scope')
    .option('--ips <list>', 'only these peers (comma-separated)')
    .option('--cluster <id>', 'only this scheduler cluster')
    .option('--copy-to <destination>', 'copy mode: a seed peer copies the tree to this directory on it (or s3://, gs://, hdfs://), incrementally')
    .option('--seed-peer <id>', 'copy mode: the seed peer that runs it (an id from GET /oapi/v1/peers; default: the first active one)')
    .addOption(new Option('--include <glob>', 'copy mode: only paths matching this glob (repeatable)').argParser(collect))
    .addOption(new Option('--exclude <glob>', 'copy mode: leave out paths matching this glob (repeatable)').argParser(collect))
    .option('--delete', 'copy mode: remove from the destination what the source no longer has')
    .option('--json', 'print JSON')
    .action(act(async (client, o: Opts & {
      schedule: string; name?: string; scope: string; count?: string; percentage?: string; ips?: string; cluster?: string;
      copyTo?: string; seedPeer?: string; include?: string[]; exclude?: string[]; delete?: boolean;
    }, source) => {
      const copy = o.copyTo ? { mode: 'copy', destination: o.copyTo, seed_peer_id: o.seedPeer, include: o.include, exclude: o.exclude, delete: o.delete } : {};
      const created = await client.call<SyncView>('POST', '/oapi/v1/syncs', {
        ...copy, source, schedule: o.schedule, name: o.name, scope: o.scope, count: o.count ? Number(o.count) : undefined,
        percentage: o.percentage ? Number(o.percentage) : undefined, ips: o.ips?.split(',').map((x) => x.trim()).filter(Boolean),
        scheduler_cluster_ids: o.cluster ? [o.cluster] : undefined,
      });
      print(created, o.json, () => renderTable(SYNC_HEAD, [syncRow(created)]));
    }));
  addManagerOptions(sync.command('list'))
    .description('list sync jobs')
    .option('--json', 'print JSON')
    .action(act(async (client, o) => {
      const rows = await client.call<SyncView[]>('GET', '/oapi/v1/syncs');
      print(rows, o.json, () => renderTable(SYNC_HEAD, rows.map(syncRow)));
    }));
  addManagerOptions(sync.command('runs'))
    .description('a sync job\'s runs, newest first, with their reports')
    .argument('<id>', 'sync job id')
    .option('--json', 'print JSON')
    .action(act(async (client, o, id) => {
      const rows = await client.call<SyncRunView[]>('GET', `/oapi/v1/syncs/${encodeURIComponent(id)}/runs`);
      const keys = ['listed', 'changed', 'removed', 'warmed', 'copied', 'skipped', 'failed'];
      print(rows, o.json, () => renderTable(['RUN', 'STATE', 'STARTED', ...keys.map((k) => k.toUpperCase()), 'ERROR'],
        rows.map((r) => [r.id, r.state, r.started_at, ...keys.map((k) => String(r.report[k] ?? '-')), r.error ?? ''])));
    }));
  for (const [verb, what] of [['pause', 'stop scheduling runs'], ['resume', 'schedule runs again'], ['run', 'start a run now'], ['rm', 'delete with its runs']] as const) {
    addManagerOptions(sync.command(verb))
      .description(`${what} of a sync job`)
      .argument('<id>', 'sync job id')
      .option('--json', 'print JSON')
      .action(act(async (client, o, id) => {
        const path = `/oapi/v1/syncs/${encodeURIComponent(id)}`;
        const out = verb === 'rm' ? await client.call('DELETE', path) : await client.call('POST', `${path}/${verb}`);
        print(out, o.json, () => `${verb === 'rm' ? 'deleted' : verb === 'run' ? 'started a run of' : `${verb}d`} sync ${id}\n`);
      }));
  }
}
