import { PassThrough } from 'node:stream';
import type { SourceEntry } from '../../../contracts/source-client.js';
import type { PeerDownloadEvent, PeerDownloadRequest, PeerDownloadResult } from '../../../protocol/local-api/download-request.js';
import type { PeerApi, PeerStream } from '../../../protocol/local-api/peer-api.js';
import type { DownloadService } from '../download/download-service.js';
import type { TaskCatalog } from '../tasks/task-catalog.js';
import { checkTaskId } from '../../../task/task-id.js';
import { describeTask, taskNotHere as notHere } from './task-view.js';

/**
 * The local API's operations answered in this process, through the same download service as the
 * daemon's socket: what an embedded peer (a daemonless `d7y get`, `D7yClient.embedded`) is used
 * through. Errors are the same D7yErrors the socket would carry.
 */
export class InProcessPeerApi implements PeerApi {
  constructor(
    private readonly downloads: DownloadService,
    private readonly catalog: TaskCatalog,
    private readonly describe: () => Record<string, unknown>,
    private readonly stop: () => Promise<void>,
  ) {}

  async download(req: PeerDownloadRequest, onEvent?: (ev: PeerDownloadEvent) => void, signal?: AbortSignal): Promise<PeerDownloadResult> {
    const result = await this.downloads.download(req, {
      signal: combined(signal, req.timeoutMs), onProgress: onEvent && ((p) => onEvent({ event: 'progress', ...p })),
    });
    onEvent?.({ event: 'done', result });
    return result;
  }

  async stream(req: PeerDownloadRequest, signal?: AbortSignal): Promise<PeerStream> {
    const s = await this.downloads.open(req, { signal: combined(signal, req.timeoutMs) });
    const body = new PassThrough({ highWaterMark: 1024 * 1024 });
    const copied = s.copyTo(body).then(({ fromPeers, fromOrigin, fromCache }) => ({ fromPeers, fromOrigin, fromCache }));
    copied.then(() => body.end(), (err: unknown) => body.destroy(err as Error));
    return { body, taskId: s.taskId, done: () => copied };
  }

  async *listSource(req: PeerDownloadRequest): AsyncGenerator<SourceEntry> {
    yield* this.downloads.listSource(req);
  }

  async stat(taskId: string): Promise<Record<string, unknown>> {
    checkTaskId(taskId);
    const s = await this.catalog.find(taskId);
    if (!s) throw notHere(taskId);
    return { ...describeTask(s, true), medium: this.catalog.medium.name };
  }

  async list(): Promise<Record<string, unknown>[]> {
    return (await this.catalog.list()).map((s) => describeTask(s, false));
  }

  async delete(taskId: string): Promise<void> {
    checkTaskId(taskId);
    if (!(await this.downloads.delete(taskId))) throw notHere(taskId);
  }

  async peer(): Promise<Record<string, unknown>> {
    return this.describe();
  }

  /** Stops the embedded peer (its listeners, its storage). */
  async close(): Promise<void> {
    await this.stop();
  }
}

function combined(signal: AbortSignal | undefined, timeoutMs: number | undefined): AbortSignal | undefined {
  const signals = [signal, timeoutMs ? AbortSignal.timeout(timeoutMs) : undefined].filter((s): s is AbortSignal => s !== undefined);
  return signals.length > 1 ? AbortSignal.any(signals) : signals[0];
}
