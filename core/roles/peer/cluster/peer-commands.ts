import { z } from 'zod';
import { D7yError } from '../../../errors/d7y-error.js';
import type { Logger } from '../../../logging/logger.js';
import type { PeerApi } from '../../../protocol/local-api/peer-api.js';
import type { PushedCommandView } from '../../../protocol/manager/manager-client.js';
import type { SourceRouter } from '../../../registry/source-router.js';
import { syncOnce } from '../../../sync/sync-engine.js';
import { defaultStatePath } from '../../../sync/sync-state.js';
import { DirectoryTarget, OriginTarget, isRemote } from '../../../sync/sync-target.js';
import type { TokenBucket } from '../token-bucket.js';

const TaskArgs = z.object({ task_id: z.string().regex(/^[0-9a-f]{64}$/) });
const LimitArgs = z.object({ uploadRateLimit: z.number().int().min(0).optional(), downloadRateLimit: z.number().int().min(0).optional() });
const SyncCopyArgs = z.object({
  src: z.string().min(1),
  dst: z.string().min(1),
  headers: z.record(z.string(), z.string()).optional(),
  include: z.array(z.string()).optional(),
  exclude: z.array(z.string()).optional(),
  delete: z.boolean().optional(),
  max_entries: z.number().int().min(1).default(100_000),
});

/** Failures listed in a copy's result, at most. */
const MAX_FAILURES = 20;

export interface PeerCommandDeps {
  /** Deletes a task this peer holds; false when it holds none of that id. */
  deleteTask(taskId: string): Promise<boolean>;
  /** The storage's garbage collection now: tasks evicted. */
  gc(): Promise<{ evicted: number; bytes: number }>;
  /** Asks the manager for the cluster's client config now and applies it. */
  reloadConfig(): Promise<Record<string, unknown>>;
  upload: TokenBucket;
  download: TokenBucket;
  /** Keeps the config's view of the limits in step (describe(), keepalive reports). */
  onLimits(limits: { upload?: number; download?: number }): void;
  /** The peer's own API (listings and downloads through this peer), for sync copies. */
  api: () => PeerApi;
  sources: SourceRouter;
  /** The peer's folder (sync state files go under `sync/`). */
  dataDir: string;
  logger: Logger;
}

function argsOf<T>(schema: z.ZodType<T>, c: PushedCommandView): T {
  const r = schema.safeParse(c.args);
  if (!r.success) throw new D7yError('D7Y_INVALID_ARGUMENT', `bad ${c.type} arguments: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, { fix: 'send the command again with valid arguments' });
  return r.data;
}

/**
 * What a peer does with a command pushed by the manager: delete_task, run_gc, reload_config,
 * set_limits (upload/download rate limits, at once), and sync_copy (a copy-mode sync job run here
 * with the engine of `d7y sync`, reading through this peer). Resolves to the result the manager
 * records; throws (a D7yError) for a failure.
 */
export function peerCommandRunner(d: PeerCommandDeps): (c: PushedCommandView, signal: AbortSignal) => Promise<Record<string, unknown>> {
  return async (c, signal) => {
    switch (c.type) {
      case 'delete_task': {
        const { task_id: taskId } = argsOf(TaskArgs, c);
        return { task_id: taskId, deleted: await d.deleteTask(taskId) };
      }
      case 'run_gc':
        return { ...await d.gc() };
      case 'reload_config':
        return d.reloadConfig();
      case 'set_limits': {
        const a = argsOf(LimitArgs, c);
        const changed: string[] = [];
        if (a.uploadRateLimit !== undefined) {
          d.upload.setRate(a.uploadRateLimit);
          changed.push('uploadRateLimit');
        }
        if (a.downloadRateLimit !== undefined) {
          d.download.setRate(a.downloadRateLimit);
          changed.push('downloadRateLimit');
        }
        d.onLimits({ upload: a.uploadRateLimit, download: a.downloadRateLimit });
        return { changed, uploadRateLimit: d.upload.rate, downloadRateLimit: d.download.rate };
      }
      case 'sync_copy':
        return syncCopy(d, argsOf(SyncCopyArgs, c), signal);
      default:
        throw new D7yError('D7Y_INVALID_ARGUMENT', `this peer does not know the command ${String(c.type)}`, { fix: 'upgrade the peer to the manager\'s version' });
    }
  };
}

async function syncCopy(d: PeerCommandDeps, a: z.infer<typeof SyncCopyArgs>, signal: AbortSignal): Promise<Record<string, unknown>> {
  const target = isRemote(a.dst) ? new OriginTarget(a.dst, d.sources.resolve(a.dst)) : new DirectoryTarget(a.dst);
  d.logger.info({ src: a.src, dst: target.name }, 'sync copy from the manager');
  const report = await syncOnce({
    client: d.api(), req: { url: a.src, headers: a.headers }, target, statePath: defaultStatePath(d.dataDir, a.src, target.name),
    selection: { include: a.include, exclude: a.exclude, delete: a.delete }, concurrency: 8, rateLimit: 0, maxFiles: a.max_entries, signal,
  });
  return { ...report, failures: report.failures.slice(0, MAX_FAILURES) };
}
