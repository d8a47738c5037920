import { resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import { D7yError, isD7yError } from '../core/errors/d7y-error.js';
import { defaultDataDir, peerSocketPath } from '../core/config/paths.js';
import { LocalApiClient } from '../core/protocol/local-api/local-api-client.js';
import { LocalCacheClient } from '../core/protocol/local-api/local-cache-client.js';
import type { CacheApi, CacheEvent, CacheTaskView } from '../core/protocol/local-api/cache-api.js';
import { parseDuration } from '../core/config/units.js';
import type { PeerApi } from '../core/protocol/local-api/peer-api.js';
import type { PeerDownloadEvent, PeerDownloadRequest } from '../core/protocol/local-api/download-request.js';
import { parseRangeArg } from '../core/protocol/local-api/range-arg.js';
import { parseByteSize } from '../core/task/piece-length.js';

/** Where the daemon listens. */
export interface ConnectOptions {
  /** The daemon's local API socket (default: the peer's under `$D7Y_DATA_DIR` or `~/.d7y`). */
  socket?: string;
}

/** A peer run inside this process. */
export interface EmbeddedOptions {
  /** A config file path, or the settings a config file would hold (`{ dataDir, peer: { schedulers } }`). */
  config?: string | Record<string, unknown>;
  /** plugins.json to load (default ./plugins.json, else the one shipped with d7y). */
  pluginsFile?: string;
  /** Log level of the embedded peer (default `warn`), logs on stderr. */
  logLevel?: string;
}

/** What to download, and where the bytes go: `output` (a file) or `stream` (a Writable, in order). */
export interface DownloadOptions {
  output?: string;
  stream?: Writable;
  /** Replace `output` if it exists. */
  overwrite?: boolean;
  /**
   * How `output` is made from the peer's copy: `'clone'` (default: copy-on-write where the file
   * system has reflinks, else a copy), `'copy'`, or `'hardlink'` (no copy; an edit of the file makes
   * the peer re-verify and drop its copy, so it is never served).
   */
  outputMode?: 'clone' | 'copy' | 'hardlink';
  /** `{ start, length }` or `'a-b'` (inclusive, as HTTP). */
  range?: { start: number; length: number } | string;
  /** `sha256:<hex>` or `crc32:<n>`: verified before the result is given. */
  digest?: string;
  tag?: string;
  application?: string;
  /** Headers sent to the origin. */
  headers?: Record<string, string>;
  /** Bytes, or a size such as `'8MiB'` (part of the task id). */
  pieceLength?: number | string;
  filteredQueryParams?: string[];
  disableBackToSource?: boolean;
  /** Give up after this many milliseconds. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /**
   * Bytes held so far, the total when known, and how many bytes came from peers, from the origin
   * and from the peer's local cache, a few times a second (output downloads).
   */
  onProgress?: (progress: DownloadProgress) => void;
}

/** A progress report of a download. */
export interface DownloadProgress {
  taskId: string;
  bytes: number;
  total?: number;
  /** Bytes from other peers (set by peers of this version or later). */
  fromPeers?: number;
  /** Bytes from the origin. */
  fromOrigin?: number;
  /** Bytes the peer held before the download started. */
  fromCache?: number;
}

/** A finished download. */
export interface DownloadResult {
  taskId: string;
  /** Bytes delivered (the range's, or the whole object's). */
  bytes: number;
  contentLength?: number;
  /** Nothing was fetched: the peer held every piece. */
  localHit?: boolean;
  output?: string;
  /** How `output` was made: a reflink clone, a copy, or a hard link of the peer's copy. */
  outputMode?: 'clone' | 'copy' | 'hardlink';
  /** Bytes from other peers, from the origin, and from the peer's local cache (when the peer said). */
  fromPeers?: number;
  fromOrigin?: number;
  fromCache?: number;
}

/**
 * The d7y client: downloads through a peer — a running daemon (`connect`) or one started in this
 * process (`embedded`) — with the same requests, results and errors either way. Errors are
 * D7yError with the `code` and `fix` the CLI prints.
 */
export class D7yClient {
  /** The peer's persistent cache: files put into the P2P network with replicas and a TTL, read on any host (no origin). */
  readonly cache: D7yCache;

  private constructor(private readonly api: PeerApi, readonly mode: 'daemon' | 'embedded', cache: CacheApi, closeCache?: () => Promise<void>) {
    this.cache = new D7yCache(cache);
    this.closeCache = closeCache;
  }

  private readonly closeCache?: () => Promise<void>;

  /** A client of the daemon on `socket`; rejects with D7Y_PEER_UNAVAILABLE when none answers. */
  static async connect(opts: ConnectOptions = {}): Promise<D7yClient> {
    const socket = resolve(opts.socket ?? peerSocketPath(defaultDataDir(), { seed: false }));
    const api = new LocalApiClient(socket);
    try {
      await api.peer();
    } catch (err) {
      await api.close();
      if (!isD7yError(err, 'D7Y_PEER_UNAVAILABLE')) throw err;
      throw new D7yError('D7Y_PEER_UNAVAILABLE', err.message, {
        fix: 'start a daemon with `d7y up` (or `d7y peer`) and pass its socket as D7yClient.connect({ socket }), or run a peer in this process with D7yClient.embedded()',
        cause: err,
      });
    }
    const cache = new LocalCacheClient(socket);
    return new D7yClient(api, 'daemon', cache, () => cache.close());
  }

  /**
   * A normal peer started in this process on the config's data dir (plugins from plugins.json),
   * joining the config's schedulers when it names any; `close()` stops it.
   */
  static async embedded(opts: EmbeddedOptions = {}): Promise<D7yClient> {
    const { nodeConfigOf, loadNodeConfig } = await import('../core/config/config-loader.js');
    const { createLogger } = await import('../core/logging/logger.js');
    const { startEmbeddedPeer } = await import('../plugins/index.js');
    const config = typeof opts.config === 'string' ? await loadNodeConfig(opts.config) : nodeConfigOf(opts.config ?? {}, 'config');
    const named = typeof opts.config === 'string' || Boolean((opts.config as { peer?: Record<string, unknown> } | undefined)?.peer?.schedulers
      || (opts.config as { peer?: Record<string, unknown> } | undefined)?.peer?.manager);
    const logger = createLogger({ level: opts.logLevel ?? 'warn' });
    const peer = await startEmbeddedPeer({ config, logger, pluginsFile: opts.pluginsFile, useSchedulers: named });
    return new D7yClient(peer.api, 'embedded', peer.cache);
  }

  /** Downloads `url` to `opts.output` or into `opts.stream`. */
  async download(url: string, opts: DownloadOptions): Promise<DownloadResult> {
    if (Boolean(opts.output) === Boolean(opts.stream)) {
      throw new D7yError('D7Y_INVALID_ARGUMENT', 'download needs exactly one of output (a file path) and stream (a Writable)', {
        fix: 'pass { output: "/path/file" } or { stream: someWritable }',
      });
    }
    const req = requestOf(url, opts);
    if (req.output) {
      const onEvent = opts.onProgress && ((ev: PeerDownloadEvent): void => {
        if (ev.event !== 'progress') return;
        const { taskId, bytes, total, fromPeers, fromOrigin, fromCache } = ev;
        opts.onProgress!({ taskId, bytes, total, fromPeers, fromOrigin, fromCache });
      });
      const r = await this.api.download(req, onEvent, opts.signal);
      return {
        taskId: r.taskId, bytes: r.bytes, contentLength: r.contentLength, localHit: r.localHit, output: r.output, outputMode: r.outputMode,
        fromPeers: r.fromPeers, fromOrigin: r.fromOrigin, fromCache: r.fromCache,
      };
    }
    const s = await this.api.stream(req, opts.signal);
    let bytes = 0;
    s.body.on('data', (c: Buffer) => { bytes += c.length; });
    await pipeline(s.body, opts.stream!, { end: false });
    const { fromPeers, fromOrigin, fromCache } = await s.done();
    return { taskId: s.taskId, bytes, fromPeers, fromOrigin, fromCache };
  }

  /** A task this peer holds, with its pieces; D7Y_TASK_NOT_FOUND when it is not there. */
  stat(taskId: string): Promise<Record<string, unknown>> {
    return this.api.stat(taskId);
  }

  /** The tasks this peer holds. */
  list(): Promise<Record<string, unknown>[]> {
    return this.api.list();
  }

  /** Deletes a task from this peer; D7Y_TASK_NOT_FOUND when it is not there. */
  delete(taskId: string): Promise<void> {
    return this.api.delete(taskId);
  }

  /** Facts about the peer: host id, ports, schedulers, storage. */
  peer(): Promise<Record<string, unknown>> {
    return this.api.peer();
  }

  /** Closes the connection (a daemon keeps running) or stops the embedded peer. */
  async close(): Promise<void> {
    await this.closeCache?.();
    await this.api.close();
  }
}

/** Options of `cache.import`. */
export interface CacheImportOptions {
  /** Name the task yourself (64 hex characters are the task id itself); default: the id of the content. */
  id?: string;
  /** Copies kept on peers, this one included (default 2). */
  replicas?: number;
  /** How long every copy is kept: a duration such as `'1h'` or milliseconds (default 1 h; 5 min to 7 days). */
  ttl?: string | number;
  tag?: string;
  application?: string;
  /** Bytes, or a size such as `'8MiB'`. */
  pieceLength?: number | string;
  signal?: AbortSignal;
  onProgress?: (p: { phase: string; bytes: number; total: number }) => void;
}

/** The persistent cache of the peer a D7yClient talks to. Errors are D7yErrors with a fix. */
export class D7yCache {
  constructor(private readonly api: CacheApi) {}

  /** Imports a local file; resolves to the task (its `taskId`, replicas and holders). */
  import(path: string, o: CacheImportOptions = {}): Promise<CacheTaskView> {
    const ttlMs = o.ttl === undefined ? 3_600_000 : typeof o.ttl === 'number' ? o.ttl : parseDuration(o.ttl, { label: 'ttl' });
    const pieceLength = typeof o.pieceLength === 'string' ? parseByteSize(o.pieceLength) : o.pieceLength;
    return this.api.import({ path: resolve(path), id: o.id, replicas: o.replicas ?? 2, ttlMs, tag: o.tag, application: o.application, pieceLength },
      progressOf(o.onProgress), o.signal);
  }

  /** Writes the task to `output` (a file path) or into `stream`, fetched from its holders when this peer has no copy. */
  async export(id: string, o: { output?: string; stream?: Writable; overwrite?: boolean; timeoutMs?: number; signal?: AbortSignal;
    onProgress?: (p: { phase: string; bytes: number; total: number }) => void }): Promise<CacheTaskView> {
    if (Boolean(o.output) === Boolean(o.stream)) {
      throw new D7yError('D7Y_INVALID_ARGUMENT', 'export needs exactly one of output (a file path) and stream (a Writable)', { fix: 'pass { output: "/path/file" } or { stream }' });
    }
    const task = await this.api.export({ id, output: o.output ? resolve(o.output) : undefined, overwrite: o.overwrite, timeoutMs: o.timeoutMs },
      progressOf(o.onProgress), o.signal);
    if (o.stream) await pipeline(await this.api.stream(id, o.signal), o.stream, { end: false });
    return task;
  }

  stat(id: string): Promise<CacheTaskView> {
    return this.api.stat(id);
  }

  /** Deletes the task from the whole cluster. */
  rm(id: string): Promise<{ taskId: string; removedCopies: number }> {
    return this.api.remove(id);
  }

  list(): Promise<CacheTaskView[]> {
    return this.api.list();
  }
}

function progressOf(on?: (p: { phase: string; bytes: number; total: number }) => void): ((ev: CacheEvent) => void) | undefined {
  return on && ((ev) => { if (ev.event === 'progress') on({ phase: ev.phase, bytes: ev.bytes, total: ev.total }); });
}

function requestOf(url: string, o: DownloadOptions): PeerDownloadRequest {
  if (typeof url !== 'string' || !url) throw new D7yError('D7Y_INVALID_ARGUMENT', 'download needs a URL', { fix: 'pass the URL as the first argument' });
  return {
    url, tag: o.tag, application: o.application, headers: o.headers, digest: o.digest, filteredQueryParams: o.filteredQueryParams,
    range: typeof o.range === 'string' ? parseRangeArg(o.range) : o.range,
    pieceLength: typeof o.pieceLength === 'string' ? parseByteSize(o.pieceLength) : o.pieceLength,
    disableBackToSource: o.disableBackToSource, timeoutMs: o.timeoutMs,
    output: o.output ? resolve(o.output) : undefined, overwrite: o.overwrite, outputMode: o.outputMode,
  };
}
