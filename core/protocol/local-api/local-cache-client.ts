import { Agent, request, type IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { D7yError, type D7yErrorCode } from '../../errors/d7y-error.js';
import type { CacheApi, CacheEvent, CacheExportRequest, CacheImportRequest, CachePushOutcome, CachePushRequest, CacheTaskView } from './cache-api.js';

/**
 * The persistent cache of a daemon, over its local API socket (`/v1/cache/...`). Errors are the
 * D7yErrors the daemon raised; a socket nobody listens on is D7Y_PEER_UNAVAILABLE.
 */
export class LocalCacheClient implements CacheApi {
  private readonly agent = new Agent({ keepAlive: true });

  constructor(readonly socketPath: string) {}

  import(req: CacheImportRequest, onEvent?: (ev: CacheEvent) => void, signal?: AbortSignal): Promise<CacheTaskView> {
    return this.events('/v1/cache/import', req, onEvent, signal);
  }

  export(req: CacheExportRequest, onEvent?: (ev: CacheEvent) => void, signal?: AbortSignal): Promise<CacheTaskView> {
    return this.events('/v1/cache/export', req, onEvent, signal);
  }

  async stream(id: string, signal?: AbortSignal): Promise<Readable> {
    return this.send('GET', `/v1/cache/${encodeURIComponent(id)}/content`, undefined, signal);
  }

  async stat(id: string): Promise<CacheTaskView> {
    return JSON.parse(await bodyText(await this.send('GET', `/v1/cache/${encodeURIComponent(id)}`))) as CacheTaskView;
  }

  async remove(id: string): Promise<{ taskId: string; removedCopies: number }> {
    return JSON.parse(await bodyText(await this.send('DELETE', `/v1/cache/${encodeURIComponent(id)}`))) as { taskId: string; removedCopies: number };
  }

  async push(req: CachePushRequest): Promise<{ taskId: string; outcomes: CachePushOutcome[] }> {
    return JSON.parse(await bodyText(await this.send('POST', '/v1/cache/push', req))) as { taskId: string; outcomes: CachePushOutcome[] };
  }

  async list(): Promise<CacheTaskView[]> {
    return (JSON.parse(await bodyText(await this.send('GET', '/v1/cache'))) as { tasks: CacheTaskView[] }).tasks;
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }

  private async events(path: string, body: unknown, onEvent?: (ev: CacheEvent) => void, signal?: AbortSignal): Promise<CacheTaskView> {
    const res = await this.send('POST', path, body, signal);
    let pending = '';
    let done: CacheTaskView | undefined;
    try {
      for await (const chunk of res) {
        pending += (chunk as Buffer).toString('utf8');
        for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          if (!line) continue;
          const ev = JSON.parse(line) as CacheEvent;
          if (ev.event === 'error') throw new D7yError(ev.code as D7yErrorCode, ev.message, { fix: ev.fix });
          if (ev.event === 'done') done = ev.task;
          onEvent?.(ev);
        }
      }
    } catch (err) {
      if (err instanceof D7yError || signal?.aborted) throw err;
      throw new D7yError('D7Y_PEER_UNAVAILABLE', `the daemon on ${this.socketPath} closed the connection mid-answer`, {
        fix: 'check the daemon log; it may have stopped', cause: err,
      });
    }
    if (!done) throw new D7yError('D7Y_PEER_UNAVAILABLE', `the daemon on ${this.socketPath} ended without a result`, { fix: 'check the daemon log' });
    return done;
  }

  private send(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<IncomingMessage> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = request({
        socketPath: this.socketPath, agent: this.agent, method, path, signal,
        headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      }, (res) => {
        if ((res.statusCode ?? 500) < 400) return resolve(res);
        bodyText(res).then((raw) => {
          let e: { code?: D7yErrorCode; message?: string; fix?: string } = {};
          try { e = JSON.parse(raw) as typeof e; } catch { e = { message: raw }; }
          reject(new D7yError(e.code ?? 'D7Y_INTERNAL', e.message ?? `the daemon answered ${res.statusCode}`, { fix: e.fix }));
        }, reject);
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
          reject(new D7yError('D7Y_PEER_UNAVAILABLE', `no d7y daemon is listening on ${this.socketPath}`, {
            fix: 'start one with `d7y up` (or `d7y peer`): the persistent cache lives in a running peer', cause: err,
          }));
        } else reject(err);
      });
      req.end(payload);
    });
  }
}

async function bodyText(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
