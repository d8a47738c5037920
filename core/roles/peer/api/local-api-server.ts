import { mkdir, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { dirname } from 'node:path';
import type { Startable } from '../../../contracts/startable.js';
import { formatIssues } from '../../../config/config-loader.js';
import { D7yError, toD7yError } from '../../../errors/d7y-error.js';
import { httpStatusOf } from '../../../errors/error-status.js';
import type { Logger } from '../../../logging/logger.js';
import { parseDigest } from '../../../task/piece-digest.js';
import { PeerDownloadRequestSchema, type PeerDownloadEvent, type PeerDownloadRequest } from '../../../protocol/local-api/download-request.js';
import { ERROR_TRAILER, TRAFFIC_TRAILER } from '../../../protocol/local-api/error-trailer.js';
import type { DownloadService } from '../download/download-service.js';
import { checkOutputPath } from '../../../protocol/local-api/output-path.js';
import type { TaskCatalog } from '../tasks/task-catalog.js';
import { checkTaskId } from '../../../task/task-id.js';
import { describeTask, taskNotHere as notHere } from './task-view.js';
import { socketAnswers } from '../../../protocol/local-api/socket-answers.js';
import { closeHttpServer } from '../../common/close-http-server.js';
import { withRemoteContext } from '../../../logging/tracing.js';

const MAX_BODY = 1024 * 1024;

export interface LocalApiServerOptions {
  socketPath: string;
  catalog: TaskCatalog;
  downloads: DownloadService;
  logger: Logger;
  /** Facts about this daemon for `GET /v1/peer`. */
  describe: () => Record<string, unknown>;
  /** The name of the medium holding a task (shown by `GET /v1/tasks/<id>`). */
  mediumOf?: (taskId: string) => string;
  /** More routes (the persistent cache's): true when one answered the request. */
  extraRoutes?: (req: IncomingMessage, res: ServerResponse, method: string, path: string) => Promise<boolean>;
}

/**
 * The peer's local API on a unix socket (HTTP/1.1):
 * `POST /v1/tasks/download` (JSON request → NDJSON events, the daemon writes `output`),
 * `POST /v1/tasks/stream` (bytes in order while pieces arrive; a failure after the start is
 * reported in the `x-d7y-error` trailer), `GET /v1/tasks`, `GET|DELETE /v1/tasks/<id>`,
 * `GET /v1/peer`. Errors are `{ code, message, fix }` with the matching HTTP status.
 */
export class LocalApiServer implements Startable {
  private server?: Server;
  constructor(private readonly opts: LocalApiServerOptions) {}

  async start(): Promise<void> {
    const path = this.opts.socketPath;
    await mkdir(dirname(path), { recursive: true });
    if (await socketAnswers(path)) {
      throw new D7yError('D7Y_CONFLICT', `another d7y daemon already listens on ${path}`, {
        fix: 'stop it, or give this peer another peer.socket / peer.dataDir',
      });
    }
    await rm(path, { force: true });
    const server = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => sendError(res, err));
    });
    server.keepAliveTimeout = 5_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new D7yError('D7Y_CONFIG_INVALID', `the local API cannot listen on ${path}: ${err.message}`, {
        fix: 'check peer.socket (unix socket paths must be shorter than 108 bytes)', cause: err,
      })));
      server.listen(path, () => resolve());
    });
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await closeHttpServer(server);
    await rm(this.opts.socketPath, { force: true });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    const method = req.method ?? 'GET';
    if (method === 'POST' && path === '/v1/tasks/download') {
      // The caller's trace (a traced `d7y get`), so the download's span joins it.
      const body = await readRequest(req);
      return withRemoteContext(req.headers, () => this.download(body, res));
    }
    if (method === 'POST' && path === '/v1/tasks/stream') return this.stream(await readRequest(req), res);
    if (method === 'GET' && path === '/v1/tasks') return sendJson(res, 200, { tasks: await this.list() });
    if (method === 'GET' && path === '/v1/peer') return sendJson(res, 200, this.opts.describe());
    if (method === 'POST' && path === '/v1/sources/list') return this.listSource(await readRequest(req), res);
    if (await this.opts.extraRoutes?.(req, res, method, path)) return;
    const m = /^\/v1\/tasks\/([^/]+)$/.exec(path);
    if (m && (method === 'GET' || method === 'DELETE')) {
      checkTaskId(m[1]);
      if (method === 'DELETE') {
        if (!(await this.opts.downloads.delete(m[1]))) throw notHere(m[1]);
        return sendJson(res, 200, { deleted: m[1] });
      }
      const s = await this.opts.catalog.find(m[1]);
      if (!s) throw notHere(m[1]);
      return sendJson(res, 200, { ...describeTask(s, true), medium: this.opts.mediumOf?.(s.taskId) ?? this.opts.catalog.medium.name });
    }
    throw new D7yError('D7Y_NOT_FOUND', `no such endpoint: ${method} ${path}`, { fix: 'use a d7y CLI of the same version as the daemon' });
  }

  /** Streams a source listing as NDJSON: `entry` lines, then `done` (or `error`). */
  private async listSource(req: PeerDownloadRequest, res: ServerResponse): Promise<void> {
    const entries = this.opts.downloads.listSource(req);
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    let count = 0;
    try {
      for await (const entry of entries) {
        count += 1;
        if (!res.write(`${JSON.stringify({ event: 'entry', entry })}\n`)) await once(res, 'drain');
      }
      res.end(`${JSON.stringify({ event: 'done', count })}\n`);
    } catch (err) {
      const e = toD7yError(err, 'D7Y_SOURCE_ERROR');
      res.end(`${JSON.stringify({ event: 'error', code: e.code, message: e.message, fix: e.fix })}\n`);
    }
  }

  private async list(): Promise<Record<string, unknown>[]> {
    return (await this.opts.catalog.list()).map((s) => describeTask(s, false));
  }

  private async download(req: PeerDownloadRequest, res: ServerResponse): Promise<void> {
    if (req.output) await checkOutputPath(req.output, req.overwrite ?? false);
    if (req.digest) parseDigest(req.digest);
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    const emit = (ev: PeerDownloadEvent): void => void res.write(`${JSON.stringify(ev)}\n`);
    const signal = requestSignal(req, res);
    const taskId = this.opts.downloads.taskIdOf(req);
    try {
      const result = await this.opts.downloads.download(req, { signal, onProgress: (p) => emit({ event: 'progress', ...p }) });
      emit({ event: 'done', result });
    } catch (err) {
      const e = toD7yError(err);
      this.opts.logger.info({ taskId, code: e.code, err: e.message }, 'download failed');
      emit({ event: 'error', code: e.code, message: e.message, fix: e.fix });
    } finally {
      res.end();
    }
  }

  private async stream(req: PeerDownloadRequest, res: ServerResponse): Promise<void> {
    const signal = requestSignal(req, res);
    const stream = await this.opts.downloads.open(req, { signal });
    res.writeHead(200, { 'content-type': 'application/octet-stream', trailer: `${ERROR_TRAILER}, ${TRAFFIC_TRAILER}`, 'x-d7y-task-id': stream.taskId });
    try {
      const { fromPeers, fromOrigin, fromCache } = await stream.copyTo(res);
      res.addTrailers({ [TRAFFIC_TRAILER]: JSON.stringify({ fromPeers, fromOrigin, fromCache }) });
    } catch (err) {
      const e = toD7yError(err);
      res.addTrailers({ [ERROR_TRAILER]: JSON.stringify({ code: e.code, message: e.message, fix: e.fix }) });
    } finally {
      res.end();
    }
  }
}

/**
 * Ends with the request: aborts when the client goes away before its answer is complete (a
 * cancelled `d7y get`: its download stops, the pieces fetched so far are kept), or at the
 * request's time-out.
 */
function requestSignal(req: PeerDownloadRequest, res: ServerResponse): AbortSignal {
  const gone = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) gone.abort(new D7yError('D7Y_ABORTED', `the client cancelled the download of ${req.url}`));
  });
  return req.timeoutMs ? AbortSignal.any([gone.signal, AbortSignal.timeout(req.timeoutMs)]) : gone.signal;
}

async function readRequest(req: IncomingMessage): Promise<PeerDownloadRequest> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new D7yError('D7Y_INVALID_ARGUMENT', 'request body too large', { fix: 'send at most 1 MiB of JSON' });
    chunks.push(c as Buffer);
  }
  let data: unknown;
  try {
    data = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new D7yError('D7Y_INVALID_ARGUMENT', 'the request body is not JSON', { fix: 'send a JSON download request' });
  }
  const parsed = PeerDownloadRequestSchema.safeParse(data);
  if (!parsed.success) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `invalid download request: ${formatIssues('request', parsed.error.issues).join('; ')}`, {
      fix: 'use a d7y CLI of the same version as the daemon',
    });
  }
  return parsed.data;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, err: unknown): void {
  const e = toD7yError(err);
  if (res.headersSent) return void res.destroy();
  sendJson(res, httpStatusOf(e), { code: e.code, message: e.message, fix: e.fix });
}
