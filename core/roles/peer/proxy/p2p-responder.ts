import type { IncomingMessage, ServerResponse } from 'node:http';
import { toD7yError } from '../../../errors/d7y-error.js';
import type { Logger } from '../../../logging/logger.js';
import type { PeerDownloadRequest } from '../../../protocol/local-api/download-request.js';
import type { DownloadService, TaskStream } from '../download/download-service.js';
import { parseRange, resolveRange } from './http-range.js';
import { redact } from './direct-forward.js';
import { sendError } from './proxy-answers.js';

/** Source errors that carry the origin's own answer: the client gets that answer from the origin itself. */
const ORIGIN_ANSWERS = new Set(['D7Y_SOURCE_NOT_FOUND', 'D7Y_SOURCE_AUTH', 'D7Y_SOURCE_ERROR', 'D7Y_SOURCE_UNAVAILABLE']);

class Unsatisfiable extends Error {
  constructor(readonly size: number) {
    super('range not satisfiable');
  }
}

export interface P2pAnswer {
  /** The request was not served: hand it to the origin as it is (several ranges; the origin's own error). */
  direct: boolean;
}

/**
 * Serves a GET through the swarm: the whole task is downloaded (and kept), the client gets the
 * object or its one range as pieces arrive: 200 or 206 with `Content-Range`, 416 for a range past
 * the end; `X-Dragonfly-Task-ID`, and `X-Dragonfly-Task-Download-Finished: true` for a local hit.
 * A download that fails after the first byte aborts the client's connection.
 */
export async function serveP2p(
  downloads: DownloadService, logger: Logger, req: IncomingMessage, res: ServerResponse, request: PeerDownloadRequest,
  extraHeaders: Record<string, string> = {},
): Promise<P2pAnswer> {
  const spec = parseRange(req.headers.range);
  if (spec === 'multiple') return { direct: true };
  const ranged = spec !== undefined && spec !== 'invalid' ? spec : undefined;
  let stream: TaskStream;
  try {
    stream = await downloads.open(request, {
      rangeOf: ranged ? (size) => {
        const r = resolveRange(ranged, size);
        if (!r) throw new Unsatisfiable(size);
        return r;
      } : undefined,
    });
  } catch (err) {
    if (err instanceof Unsatisfiable) {
      sendError(res, 416, `the range ${req.headers.range} is past the end of the ${err.size}-byte object`, 'proxy', { 'content-range': `bytes */${err.size}` });
      return { direct: false };
    }
    const e = toD7yError(err);
    if (ORIGIN_ANSWERS.has(e.code)) {
      logger.debug({ url: redact(request.url), code: e.code }, 'proxy: the origin refused the P2P download; its answer goes to the client as it is');
      return { direct: true };
    }
    logger.info({ url: redact(request.url), code: e.code, err: e.message }, 'proxy: P2P download failed');
    sendError(res, e.code === 'D7Y_INVALID_ARGUMENT' ? 400 : 502, e.fix ? `${e.message} (${e.fix})` : e.message, 'dfdaemon');
    return { direct: false };
  }
  const headers: Record<string, string | number> = { 'accept-ranges': 'bytes', 'x-dragonfly-task-id': stream.taskId, ...extraHeaders };
  if (stream.localHit) headers['x-dragonfly-task-download-finished'] = 'true';
  if (stream.bytes !== undefined) headers['content-length'] = stream.bytes;
  if (stream.range && stream.contentLength !== undefined) {
    headers['content-range'] = `bytes ${stream.range.start}-${stream.range.start + stream.range.length - 1}/${stream.contentLength}`;
    res.writeHead(206, headers);
  } else {
    res.writeHead(200, headers);
  }
  try {
    await stream.copyTo(res);
    res.end();
  } catch (err) {
    const e = toD7yError(err);
    if (e.code !== 'D7Y_ABORTED') logger.warn({ url: redact(request.url), taskId: stream.taskId, code: e.code, err: e.message }, 'proxy: download failed mid-body; the client connection is aborted');
    res.destroy();
  }
  return { direct: false };
}
