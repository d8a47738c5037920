import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { z } from 'zod';
import { formatIssues } from '../../../config/config-loader.js';
import { D7yError, toD7yError } from '../../../errors/d7y-error.js';
import type { Logger } from '../../../logging/logger.js';
import { CacheExportRequestSchema, CacheImportRequestSchema, CachePushRequestSchema, type CacheEvent, type CacheTaskView } from '../../../protocol/local-api/cache-api.js';
import type { PeerPersistentCache } from './peer-persistent-cache.js';

const MAX_BODY = 64 * 1024;

/**
 * The local API's persistent-cache calls: `POST /v1/cache/import` and `POST /v1/cache/export`
 * (JSON request → NDJSON `progress` events, then `done` with the task or `error`), `GET /v1/cache`,
 * `POST /v1/cache/push` (JSON → JSON), `GET|DELETE /v1/cache/<id>`, `GET /v1/cache/<id>/content` (the bytes of a held copy, in order).
 * Returns false for a path that is not one of them.
 */
export function cacheLocalRoutes(cache: PeerPersistentCache, logger: Logger) {
  return async (req: IncomingMessage, res: ServerResponse, method: string, path: string): Promise<boolean> => {
    if (!path.startsWith('/v1/cache')) return false;
    if (method === 'POST' && path === '/v1/cache/import') {
      const body = await readJson(req, CacheImportRequestSchema, 'import');
      await events(res, req, logger, (emit, signal) => cache.import(body, emit, signal));
      return true;
    }
    if (method === 'POST' && path === '/v1/cache/export') {
      const body = await readJson(req, CacheExportRequestSchema, 'export');
      await events(res, req, logger, (emit, signal) => cache.export(body, emit, signal));
      return true;
    }
    if (method === 'GET' && path === '/v1/cache') return json(res, { tasks: await cache.list() });
    if (method === 'POST' && path === '/v1/cache/push') return json(res, await cache.push(await readJson(req, CachePushRequestSchema, 'push')));
    const m = /^\/v1\/cache\/([^/]+)(\/content)?$/.exec(path);
    if (!m) return false;
    const id = decodeURIComponent(m[1]!);
    if (m[2] && method === 'GET') {
      const body = await cache.stream(id);
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      await pipeline(body, res).catch(() => res.destroy());
      return true;
    }
    if (method === 'GET') return json(res, await cache.stat(id));
    if (method === 'DELETE') return json(res, await cache.remove(id));
    return false;
  };
}

async function events(res: ServerResponse, req: IncomingMessage, logger: Logger,
  run: (emit: (ev: CacheEvent) => void, signal: AbortSignal) => Promise<CacheTaskView>): Promise<void> {
  const gone = new AbortController();
  res.once('close', () => { if (!res.writableFinished) gone.abort(new D7yError('D7Y_ABORTED', 'the client went away')); });
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  const emit = (ev: CacheEvent): void => void res.write(`${JSON.stringify(ev)}\n`);
  try {
    emit({ event: 'done', task: await run(emit, gone.signal) });
  } catch (err) {
    const e = toD7yError(err);
    logger.info({ path: req.url, code: e.code, err: e.message }, 'persistent cache call failed');
    emit({ event: 'error', code: e.code, message: e.message, fix: e.fix });
  } finally {
    res.end();
  }
}

async function readJson<T extends z.ZodType>(req: IncomingMessage, schema: T, what: string): Promise<z.output<T>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new D7yError('D7Y_INVALID_ARGUMENT', `the ${what} request is larger than 64 KiB`, { fix: 'send a smaller request' });
    chunks.push(c as Buffer);
  }
  let data: unknown;
  try {
    data = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `the ${what} request is not JSON`, { fix: 'use a d7y CLI of the same version as the daemon' });
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `invalid ${what} request: ${formatIssues('request', parsed.error.issues).join('; ')}`, {
      fix: 'check the flags (d7y cache --help)',
    });
  }
  return parsed.data;
}

function json(res: ServerResponse, body: unknown): true {
  const text = JSON.stringify(body);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
  return true;
}
