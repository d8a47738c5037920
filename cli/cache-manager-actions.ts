import type { ManagerCacheTaskView } from '../core/protocol/manager/index.js';
import { formatDuration } from '../core/config/units.js';
import { persistentCacheTaskIdOf } from '../core/task/persistent-cache-task-id.js';
import { connectManager, type ManagerConnectionOptions } from './manager-connection.js';
import { humanBytes, renderTable } from './table.js';

/** `d7y cache list|stat|rm --manager`: the tasks of every scheduler cluster of the tenant, through the manager. */
export interface CacheManagerOptions extends ManagerConnectionOptions {
  json?: boolean;
  cluster?: string;
}

async function withManager<T>(opts: CacheManagerOptions, use: (c: Awaited<ReturnType<typeof connectManager>>) => Promise<T>): Promise<T> {
  const client = await connectManager(opts);
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}

const ttlLeft = (t: ManagerCacheTaskView): string => formatDuration(Math.max(0, Date.parse(t.expires_at) - Date.now()));
const holder = (p: ManagerCacheTaskView['persistent_cache_peers'][number]): string => `${p.host.hostname} (${p.host.ip})${p.persistent ? '' : ' [export copy]'}`;

export async function listCacheOnManager(opts: CacheManagerOptions): Promise<void> {
  const tasks = await withManager(opts, (c) => c.listCacheTasks({ scheduler_cluster_id: opts.cluster, per_page: 1000 }));
  if (opts.json) return json(tasks);
  process.stdout.write(renderTable(['TASK ID', 'NAME', 'SIZE', 'REPLICAS', 'STATE', 'TTL LEFT', 'HOLDERS'], tasks.map((t) => [
    t.task_id, t.name || '-', humanBytes(t.content_length), `${t.current_persistent_replica_count}/${t.persistent_replica_count}`, t.state, ttlLeft(t),
    t.persistent_cache_peers.map((p) => p.host.hostname).join(',') || '-',
  ])));
}

export async function statCacheOnManager(id: string, opts: CacheManagerOptions): Promise<void> {
  const t = await withManager(opts, (c) => c.getCacheTask(persistentCacheTaskIdOf(id)));
  if (opts.json) return json(t);
  const rows: [string, string][] = [
    ['task id', t.task_id], ...(t.name ? [['name', t.name] as [string, string]] : []),
    ['size', `${humanBytes(t.content_length)} (${t.content_length} bytes)`], ['pieces', `${t.total_piece_count} of ${humanBytes(t.piece_length)}`],
    ['digest', t.digest || '-'], ['state', t.state], ['replicas', `${t.current_persistent_replica_count} of ${t.persistent_replica_count}`],
    ['holders', t.persistent_cache_peers.map(holder).join(', ') || '-'], ['clusters', t.scheduler_cluster_ids.join(', ')],
    ['ttl left', ttlLeft(t)], ['created', t.created_at], ['expires', t.expires_at],
  ];
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(10)} ${v}\n`);
}

export async function removeCacheOnManager(id: string, opts: CacheManagerOptions): Promise<void> {
  const r = await withManager(opts, (c) => c.deleteCacheTask(persistentCacheTaskIdOf(id)));
  if (opts.json) return json(r);
  const hosts = r.hosts.map((h) => h.hostname).join(', ') || 'no host';
  if (r.state === 'deleted') process.stdout.write(`removed ${r.task_id} from every scheduler cluster (copies on ${hosts} dropped)\n`);
  else process.stdout.write(`removing ${r.task_id}: ${r.message ?? 'under way'} (copies on ${hosts}); check with d7y cache stat ${r.task_id} --manager\n`);
}

function json(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
