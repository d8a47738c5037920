import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { Teardown } from './teardown.js';

/** One request the origin answered, its times in ms on the machine's monotonic clock ({@link nowMs}). */
export interface OriginRequest {
  method: string;
  /** The `Range` header, when there was one. */
  range?: string;
  arrived: number;
  /** When the first body byte was handed to the socket (a GET with a body only). */
  firstByte?: number;
  /** When the last body byte was handed to the socket. */
  lastByte?: number;
}

/** Milliseconds on CLOCK_MONOTONIC: one clock for every process and thread of the machine. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

const CHUNK = 256 * 1024;

type OriginMessage = { port: number } | { path: string; index: number; request: OriginRequest } | { synced: number };

/**
 * An HTTP origin in a worker thread of the benchmark (so it never delays the benchmark's reading
 * of its clients), serving the same `body` at every path (HEAD, and one `bytes=a-b` range as a
 * 206) and recording each path's requests on the machine's monotonic clock, which the benchmark
 * reads its clients' first bytes on too.
 */
export class TimingOrigin {
  /** Requests by path, in arrival order; updated as the worker reports them. */
  readonly requests = new Map<string, OriginRequest[]>();

  private syncs = 0;

  private constructor(readonly port: number, private readonly worker: Worker) {}

  /** Listens on 127.0.0.1 (a random port); the worker is stopped at teardown. */
  static async start(teardown: Teardown, body: Buffer): Promise<TimingOrigin> {
    const worker = new Worker(new URL(import.meta.url), { workerData: { timingOriginBody: body } });
    teardown.add('stop the timing origin', async () => { await worker.terminate(); });
    const [first] = await Promise.race([
      once(worker, 'message') as Promise<[OriginMessage]>,
      once(worker, 'error').then(([err]) => { throw err as Error; }),
    ]);
    if (!('port' in first)) throw new Error('the timing origin did not report its port');
    const origin = new TimingOrigin(first.port, worker);
    worker.on('message', (m: OriginMessage) => {
      if (!('path' in m)) return;
      const list = origin.requests.get(m.path) ?? [];
      list[m.index] = m.request;
      origin.requests.set(m.path, list);
    });
    return origin;
  }

  /** Resolves once every request the worker reported before this call is in `requests`. */
  async settled(): Promise<void> {
    const n = (this.syncs += 1);
    const reply = new Promise<void>((resolve) => {
      const on = (m: OriginMessage): void => {
        if ('synced' in m && m.synced === n) {
          this.worker.off('message', on);
          resolve();
        }
      };
      this.worker.on('message', on);
    });
    this.worker.postMessage({ sync: n });
    await reply;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** The request among `path`'s whose body started first (undefined when the origin sent no body). */
  firstGet(path: string): OriginRequest | undefined {
    return (this.requests.get(path) ?? []).filter((r) => r.firstByte !== undefined).sort((a, b) => a.firstByte! - b.firstByte!)[0];
  }
}

/** The worker side: serves and reports each request when it arrives and when its body ends. */
function serveInWorker(body: Buffer): void {
  const counts = new Map<string, number>();
  const post = (path: string, index: number, request: OriginRequest): void => parentPort!.postMessage({ path, index, request } satisfies OriginMessage);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    const index = counts.get(path) ?? 0;
    counts.set(path, index + 1);
    const rec: OriginRequest = { method: req.method ?? '', range: req.headers.range, arrived: nowMs() };
    post(path, index, rec);
    res.on('error', () => undefined);
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    const end = m?.[2] ? Math.min(Number(m[2]), body.length - 1) : body.length - 1;
    if (start > end) {
      res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
      return;
    }
    res.writeHead(m ? 206 : 200, {
      'accept-ranges': 'bytes', 'content-type': 'application/octet-stream', 'content-length': end - start + 1,
      ...(m ? { 'content-range': `bytes ${start}-${end}/${body.length}` } : {}),
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    void (async () => {
      for (let at = start; at <= end && !res.destroyed; at += CHUNK) {
        if (rec.firstByte === undefined) {
          rec.firstByte = nowMs();
          post(path, index, rec);
        }
        if (!res.write(body.subarray(at, Math.min(at + CHUNK, end + 1)))) {
          const ac = new AbortController();
          await Promise.race([once(res, 'drain', { signal: ac.signal }), once(res, 'close', { signal: ac.signal })]).finally(() => ac.abort());
        }
      }
      rec.lastByte = nowMs();
      res.end();
      post(path, index, rec);
    })();
  });
  parentPort!.on('message', (m: { sync?: number }) => {
    if (m.sync !== undefined) parentPort!.postMessage({ synced: m.sync } satisfies OriginMessage);
  });
  server.listen(0, '127.0.0.1', () => parentPort!.postMessage({ port: (server.address() as AddressInfo).port } satisfies OriginMessage));
}

if (!isMainThread && parentPort && (workerData as { timingOriginBody?: Uint8Array } | undefined)?.timingOriginBody) {
  const b = (workerData as { timingOriginBody: Uint8Array }).timingOriginBody;
  serveInWorker(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
