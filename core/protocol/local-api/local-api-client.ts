import { Agent, request, type IncomingMessage, type RequestOptions } from 'node:http';
import type { Readable } from 'node:stream';
import type { SourceEntry } from '../../contracts/source-client.js';
import { D7yError, isD7yError, type D7yErrorCode } from '../../errors/d7y-error.js';
import type { PeerDownloadEvent, PeerDownloadRequest, PeerDownloadResult, TrafficShare } from './download-request.js';
import { ERROR_TRAILER, TRAFFIC_TRAILER } from './error-trailer.js';
import type { PeerApi, PeerStream } from './peer-api.js';
import { traceHeaders } from '../../logging/tracing.js';

/**
 * Talks to a peer daemon's local API over its unix socket (node:http, one kept-alive agent).
 * Errors come back as the D7yError the daemon raised; a socket nobody listens on is
 * D7Y_PEER_UNAVAILABLE saying how to start a daemon.
 */
export class LocalApiClient implements PeerApi {
  private readonly agent = new Agent({ keepAlive: true });

  constructor(readonly socketPath: string) {}

  /** Downloads into `req.output` (absolute); `onEvent` sees progress. Resolves to the result. */
  async download(req: PeerDownloadRequest, onEvent?: (ev: PeerDownloadEvent) => void, signal?: AbortSignal): Promise<PeerDownloadResult> {
    const res = await this.call('POST', '/v1/tasks/download', req, signal);
    let result: PeerDownloadResult | undefined;
    for await (const ev of ndjsonLines<PeerDownloadEvent>(res, this.socketPath)) {
      if (ev.event === 'error') throw new D7yError(ev.code as D7yErrorCode, ev.message, { fix: ev.fix });
      if (ev.event === 'done') result = ev.result;
      onEvent?.(ev);
    }
    if (!result) throw new D7yError('D7Y_PEER_UNAVAILABLE', `the daemon on ${this.socketPath} closed the download without a result`, {
      fix: 'check the daemon log; it may have stopped',
    });
    return result;
  }

  /**
   * The bytes of the download in order, as they arrive. `done` settles after the body ended:
   * it rejects with the daemon's error when the stream failed after it started.
   */
  async stream(req: PeerDownloadRequest, signal?: AbortSignal): Promise<PeerStream> {
    const res = await this.call('POST', '/v1/tasks/stream', req, signal);
    const body: Readable = res;
    return {
      body,
      taskId: String(res.headers['x-d7y-task-id'] ?? ''),
      done: async () => {
        const raw = res.trailers[ERROR_TRAILER];
        if (raw) {
          const e = JSON.parse(String(raw)) as { code: D7yErrorCode; message: string; fix?: string };
          throw new D7yError(e.code, e.message, { fix: e.fix });
        }
        const traffic = res.trailers[TRAFFIC_TRAILER];
        return traffic ? JSON.parse(String(traffic)) as Partial<TrafficShare> : {};
      },
    };
  }

  /** The entries of a source listing (prefix, directory, repository), streamed. */
  async *listSource(req: PeerDownloadRequest, signal?: AbortSignal): AsyncGenerator<SourceEntry> {
    const res = await this.call('POST', '/v1/sources/list', req, signal);
    let done = false;
    type ListEvent = { event: string; entry?: SourceEntry; code?: D7yErrorCode; message?: string; fix?: string };
    for await (const ev of ndjsonLines<ListEvent>(res, this.socketPath)) {
      if (ev.event === 'error') throw new D7yError(ev.code ?? 'D7Y_SOURCE_ERROR', ev.message ?? 'listing failed', { fix: ev.fix });
      if (ev.event === 'done') done = true;
      if (ev.event === 'entry' && ev.entry) yield ev.entry;
    }
    if (!done) throw new D7yError('D7Y_PEER_UNAVAILABLE', `the daemon on ${this.socketPath} closed the listing early`, { fix: 'check the daemon log; it may have stopped' });
  }

  async stat(taskId: string): Promise<Record<string, unknown>> {
    return JSON.parse(await text(await this.call('GET', `/v1/tasks/${taskId}`))) as Record<string, unknown>;
  }

  async list(): Promise<Record<string, unknown>[]> {
    const body = JSON.parse(await text(await this.call('GET', '/v1/tasks'))) as { tasks: Record<string, unknown>[] };
    return body.tasks;
  }

  async delete(taskId: string): Promise<void> {
    (await this.call('DELETE', `/v1/tasks/${taskId}`)).resume();
  }

  async peer(): Promise<Record<string, unknown>> {
    return JSON.parse(await text(await this.call('GET', '/v1/peer'))) as Record<string, unknown>;
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }

  /**
   * One request (on a new connection of its own with `fresh`, else on a kept-alive one when there
   * is one); an error says whether it went out on a reused connection (`reused`).
   */
  private send(method: string, path: string, payload: string | undefined, signal?: AbortSignal, fresh = false): Promise<IncomingMessage> {
    return new Promise<IncomingMessage>((resolve, reject) => {
      const options: RequestOptions & { servername: string } = {
        socketPath: this.socketPath, agent: fresh ? false : this.agent, method, path, signal,
        // No TLS on a unix socket: an empty server name spares the agent's IP check of the host (~10 ms of CPU at a CLI's start).
        servername: '',
        headers: { ...traceHeaders(), ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }) },
      };
      const req = request(options, resolve);
      req.on('error', (err) => reject(Object.assign(err, { reused: req.reusedSocket })));
      req.end(payload);
    });
  }

  private async call(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, signal?: AbortSignal): Promise<IncomingMessage> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    let res: IncomingMessage;
    try {
      res = await this.send(method, path, payload, signal).catch((err: unknown) => {
        // The daemon closed a kept-alive connection just as it was reused (the client's write then
        // meets a reset, ECONNRESET, or a closed pipe, EPIPE): the request never reached it, so it
        // is sent once more, on a connection of its own (the other idle ones may be closing too).
        const code = (err as NodeJS.ErrnoException).code;
        if ((err as { reused?: boolean }).reused && (code === 'ECONNRESET' || code === 'EPIPE')) return this.send(method, path, payload, signal, true);
        throw err;
      });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'ECONNRESET') {
        throw new D7yError('D7Y_PEER_UNAVAILABLE', `no d7y daemon is listening on ${this.socketPath}`, {
          fix: 'start one with `d7y up` (or `d7y peer`), or point --socket at a running daemon', cause: err,
        });
      }
      throw err;
    }
    const status = res.statusCode ?? 0;
    if (status >= 400) {
      const raw = await text(res);
      let e: { code?: D7yErrorCode; message?: string; fix?: string } = {};
      try {
        e = JSON.parse(raw) as typeof e;
      } catch {
        e = { message: raw };
      }
      throw new D7yError(e.code ?? 'D7Y_INTERNAL', e.message ?? `the daemon answered ${status}`, { fix: e.fix });
    }
    return res;
  }
}

async function text(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The JSON lines of an NDJSON body, parsed; a line that is not JSON is a clear protocol error. */
async function* ndjsonLines<T>(body: AsyncIterable<Buffer>, socketPath: string): AsyncGenerator<T> {
  let buffered = '';
  for await (const chunk of closedEarly(body, socketPath)) {
    buffered += chunk.toString('utf8');
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (!line) continue;
      let parsed: T;
      try {
        parsed = JSON.parse(line) as T;
      } catch {
        throw new D7yError('D7Y_PROTOCOL_ERROR', `the daemon on ${socketPath} sent a line that is not JSON`, {
          fix: 'use a d7y CLI of the same version as the daemon',
        });
      }
      yield parsed;
    }
  }
}

/** The chunks of a response body; the connection dropping mid-body is D7Y_PEER_UNAVAILABLE. */
async function* closedEarly(body: AsyncIterable<Buffer>, socketPath: string): AsyncGenerator<Buffer> {
  try {
    yield* body;
  } catch (err) {
    if (isD7yError(err) || (err as Error).name === 'AbortError') throw err;
    throw new D7yError('D7Y_PEER_UNAVAILABLE', `the daemon on ${socketPath} closed the connection mid-answer`, {
      fix: 'check the daemon log; it may have stopped', cause: err,
    });
  }
}
