import { createHash } from 'node:crypto';
import { isD7yError } from '../../errors/d7y-error.js';
import type { ClaimedJob, PeerResultView } from '../../protocol/manager/manager-client.js';
import type { DfdaemonUploadClient } from '../../protocol/rpc/dfdaemon-upload-client.js';
import type { Download } from '../../protocol/rpc/gen/common.js';
import { taskId as computeTaskId } from '../../task/task-id.js';
import type { HostRecord } from './resource/records.js';
import type { SchedulerResources } from './resource/scheduler-resources.js';

interface PreheatJobArgs {
  urls: string[];
  tag?: string;
  application?: string;
  piece_length?: number;
  filtered_query_params?: string[];
  headers?: Record<string, string>;
  scope: 'single_seed_peer' | 'all_seed_peers' | 'all_peers';
  ips?: string[];
  count?: number;
  percentage?: number;
  load_to_memory?: boolean;
  concurrent_peer_count?: number;
}

/** Hosts of a preheat: by scope, then narrowed by ips, else count, else percentage (rounded down, at least 1). */
export function selectPreheatHosts(hosts: HostRecord[], args: Pick<PreheatJobArgs, 'scope' | 'ips' | 'count' | 'percentage'>, taskKey: string): HostRecord[] {
  const sorted = [...hosts].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const seeds = sorted.filter((h) => h.type === 'super');
  if (args.scope === 'single_seed_peer') {
    if (!seeds.length) return [];
    const n = createHash('sha256').update(taskKey).digest().readUInt32BE(0);
    return [seeds[n % seeds.length]!];
  }
  const pool = args.scope === 'all_seed_peers' ? seeds : sorted.filter((h) => h.type === 'normal');
  if (args.ips?.length) return pool.filter((h) => args.ips!.includes(h.ip));
  if (args.count) return pool.slice(0, args.count);
  if (args.percentage) return pool.slice(0, Math.max(1, Math.floor((pool.length * args.percentage) / 100)));
  return pool;
}

async function mapBounded<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  }));
  return out;
}

const hostResult = (h: HostRecord) => ({ host_id: h.id, ip: h.ip, hostname: h.hostname });

/**
 * Runs a job the manager handed this scheduler: preheat (the chosen peers' DownloadTask),
 * get_task (StatTask on every host: who holds the task and how much), delete_task (DeleteTask on
 * every host, and the task forgotten here). Returns the per-peer results; never throws.
 */
export class JobRunner {
  constructor(private readonly resources: SchedulerResources, private readonly dfdaemon: DfdaemonUploadClient) {}

  /** Closes the dfdaemon channels. */
  close(): void {
    this.dfdaemon.close();
  }

  async run(job: ClaimedJob, signal: AbortSignal): Promise<{ state: 'succeeded' | 'failed'; results: PeerResultView[]; error?: string }> {
    const hosts = [...this.resources.hosts.values()];
    if (job.type === 'preheat') return this.preheat(job.args as unknown as PreheatJobArgs, hosts, job.timeout_ms, signal);
    const taskId = String(job.args.task_id);
    const results = (await mapBounded(hosts, 50, async (h): Promise<PeerResultView | undefined> => {
      try {
        if (job.type === 'get_task') {
          const t = await this.dfdaemon.statTask({ host: h.ip, port: h.rpcPort }, taskId, { controlKey: h.controlKey });
          return { ...hostResult(h), task_id: taskId, state: 'succeeded', content_length: t.contentLength, piece_count: t.pieceCount };
        }
        await this.dfdaemon.deleteTask({ host: h.ip, port: h.rpcPort }, taskId, { controlKey: h.controlKey });
        return { ...hostResult(h), task_id: taskId, state: 'succeeded' };
      } catch (err) {
        if (isD7yError(err, 'D7Y_TASK_NOT_FOUND') || isD7yError(err, 'D7Y_NOT_FOUND')) return undefined;
        return { ...hostResult(h), task_id: taskId, state: 'failed', error: (err as Error).message.slice(0, 2000) };
      }
    })).filter((r): r is PeerResultView => r !== undefined);
    if (job.type === 'delete_task') this.resources.deleteTask(taskId);
    const failed = results.some((r) => r.state === 'failed');
    return { state: failed ? 'failed' : 'succeeded', results, error: failed ? 'some peers failed' : undefined };
  }

  private async preheat(a: PreheatJobArgs, hosts: HostRecord[], timeoutMs: number, signal: AbortSignal) {
    const work: { url: string; host: HostRecord }[] = [];
    for (const url of a.urls) {
      const key = computeTaskId({ url, tag: a.tag, application: a.application, pieceLength: a.piece_length, filteredQueryParams: a.filtered_query_params });
      for (const host of selectPreheatHosts(hosts, a, key)) work.push({ url, host });
    }
    if (!work.length) return { state: 'failed' as const, results: [], error: `no ${a.scope === 'all_peers' ? 'peer' : 'seed peer'} of this scheduler matches the preheat scope` };
    const results = await mapBounded(work, a.concurrent_peer_count ?? 500, async ({ url, host }): Promise<PeerResultView> => {
      const download: Download = {
        url, tag: a.tag ?? '', application: a.application ?? '', filteredQueryParams: a.filtered_query_params ?? [],
        requestHeader: a.headers ?? {}, pieceLength: a.piece_length, disableBackToSource: false, needBackToSource: false,
        options: a.load_to_memory ? { storage: 'memory' } : {},
      };
      try {
        for await (const _ of this.dfdaemon.downloadTask({ host: host.ip, port: host.rpcPort }, download, { signal, timeoutMs, controlKey: host.controlKey })) { /* progress */ }
        return { ...hostResult(host), url, state: 'succeeded' };
      } catch (err) {
        return { ...hostResult(host), url, state: 'failed', error: (err as Error).message.slice(0, 2000) };
      }
    });
    const failed = results.filter((r) => r.state === 'failed').length;
    return { state: failed ? 'failed' as const : 'succeeded' as const, results, error: failed ? `${failed} of ${results.length} downloads failed` : undefined };
  }
}
