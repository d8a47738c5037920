import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import picomatch from 'picomatch';
import { D7yError } from '../core/errors/d7y-error.js';
import { parseRate } from '../core/config/units.js';
import { defaultDataDir } from '../core/config/paths.js';
import type { ObjectStorageOptions, SourceEntry } from '../core/contracts/source-client.js';
import type { PeerApi } from '../core/protocol/local-api/peer-api.js';
import type { PeerDownloadRequest, TrafficShare } from '../core/protocol/local-api/download-request.js';
import { TokenBucket } from '../core/index.js';
import { connectPeer } from './peer-connection.js';
import { DirectoryTarget, OriginTarget, isRemote, schemeOf, type SyncTarget } from './sync-target.js';
import { OciTarget } from './sync-oci-target.js';
import { SyncState, defaultStatePath, recordOf, unchanged } from './sync-state.js';
import { syncProgress, printPlan, printSummary, type SyncReport } from './sync-report.js';

/** The options of `d7y sync`, as commander parses them. */
export interface SyncOptions {
  include?: string[];
  exclude?: string[];
  delete?: boolean;
  dryRun?: boolean;
  concurrency: string;
  rateLimit?: string;
  json?: boolean;
  progress: boolean;
  state?: string;
  maxFiles: string;
  storageEndpoint?: string;
  storageRegion?: string;
  storageAccessKeyId?: string;
  storageAccessKeySecret?: string;
  storageSessionToken?: string;
  dstStorageEndpoint?: string;
  dstStorageRegion?: string;
  dstStorageAccessKeyId?: string;
  dstStorageAccessKeySecret?: string;
  dstStorageSessionToken?: string;
  socket?: string;
  daemon?: boolean;
  config?: string;
  dataDir?: string;
  pluginsFile?: string;
}

function storageOf(o: Record<string, string | undefined>): ObjectStorageOptions | undefined {
  const s = { endpoint: o.endpoint, region: o.region, accessKeyId: o.accessKeyId, accessKeySecret: o.accessKeySecret, sessionToken: o.sessionToken };
  return Object.values(s).some((v) => v !== undefined) ? s : undefined;
}

function wholeNumber(text: string, flag: string, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `${flag} ${text} is not a whole number from 1 to ${max}`, { fix: `give ${flag} a value from 1 to ${max}` });
  }
  return n;
}

/** The work of one run: what to copy, what is already there, what to remove. */
interface SyncPlan {
  copy: SourceEntry[];
  skipped: number;
  /** Skipped because the destination already holds them though no run copied them: recorded in the state. */
  present: SourceEntry[];
  remove: string[];
}

async function plan(client: PeerApi, req: PeerDownloadRequest, state: SyncState, target: SyncTarget, opts: SyncOptions, maxFiles: number): Promise<SyncPlan> {
  const include = opts.include?.length ? picomatch(opts.include, { dot: true }) : () => true;
  const exclude = opts.exclude?.length ? picomatch(opts.exclude, { dot: true }) : () => false;
  const selected = (path: string) => include(path) && !exclude(path);
  const seen = new Set<string>();
  const out: SyncPlan = { copy: [], skipped: 0, present: [], remove: [] };
  for await (const entry of client.listSource(req)) {
    if (entry.isDirectory || !selected(entry.path)) continue;
    seen.add(entry.path);
    if (seen.size > maxFiles) {
      throw new D7yError('D7Y_INVALID_ARGUMENT', `${req.url} holds more than ${maxFiles} matching files`, {
        fix: 'raise --max-files, or narrow the selection with --include/--exclude',
      });
    }
    if (unchanged(entry, state.records.get(entry.path)) && await target.holds(entry.path, entry.contentLength)) out.skipped++;
    else if (await target.has?.(entry)) {
      out.skipped++;
      out.present.push(entry);
    } else out.copy.push(entry);
  }
  if (seen.size === 0) {
    throw new D7yError('D7Y_SOURCE_NOT_FOUND', `nothing to sync under ${req.url}${opts.include?.length || opts.exclude?.length ? ' with these --include/--exclude patterns' : ''}`, {
      fix: 'check the source (a prefix, directory or repository that lists files) and the patterns',
    });
  }
  if (opts.delete) out.remove = [...state.records.keys()].filter((p) => !seen.has(p) && selected(p));
  return out;
}

/** The destination, and the plugins loaded to write it (closed by the caller). */
async function openTarget(dst: string, opts: SyncOptions): Promise<{ target: SyncTarget; close: () => Promise<void> }> {
  if (!isRemote(dst)) return { target: new DirectoryTarget(dst), close: async () => undefined };
  const { loadRoleConfig } = await import('./role-options.js');
  const { createLogger } = await import('../core/logging/logger.js');
  const { loadSourcePlugins } = await import('../plugins/index.js');
  const config = await loadRoleConfig({ config: opts.config, dataDir: opts.dataDir, pluginsFile: opts.pluginsFile });
  const loaded = await loadSourcePlugins(config, createLogger({ level: 'warn', format: config.log.format }), opts.pluginsFile);
  try {
    const storage = storageOf({
      endpoint: opts.dstStorageEndpoint ?? opts.storageEndpoint, region: opts.dstStorageRegion ?? opts.storageRegion,
      accessKeyId: opts.dstStorageAccessKeyId ?? opts.storageAccessKeyId, accessKeySecret: opts.dstStorageAccessKeySecret ?? opts.storageAccessKeySecret,
      sessionToken: opts.dstStorageSessionToken ?? opts.storageSessionToken,
    });
    const client = loaded.sources.resolve(dst);
    const target = schemeOf(dst) === 'oci' ? new OciTarget(dst, client) : new OriginTarget(dst, client, storage);
    if (opts.delete) target.checkDelete();
    return { target, close: () => loaded.close() };
  } catch (err) {
    await loaded.close();
    throw err;
  }
}

function checkArguments(src: string, dst: string): void {
  if (!isRemote(src)) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `the source "${src}" is not a URL`, {
      fix: 'give a listable source such as s3://bucket/prefix/, gs://bucket/prefix/, hdfs://namenode/dir, a Maven group, a YUM repository or an OCI repository',
    });
  }
  if (isRemote(dst) && schemeOf(dst) === 'oci' && schemeOf(src) !== 'oci') {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `a registry (${dst}) takes images only, and ${src} is not one`, { fix: 'sync an OCI image (oci://registry/repository:tag) to a registry' });
  }
  const norm = (u: string) => u.replace(/\/+$/, '');
  if (isRemote(dst) && (norm(dst).startsWith(`${norm(src)}/`) || norm(src).startsWith(`${norm(dst)}/`) || norm(src) === norm(dst))) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `${src} and ${dst} overlap: a sync would read what it writes`, { fix: 'give a destination outside the source' });
  }
}

/**
 * `d7y sync <src> <dst>`: lists `src` through the local peer (or one in this process), copies
 * what is new or changed since the last run (per the sync state), removes with `--delete` what
 * an earlier run copied and the source no longer has, and reports the counts. Exit status 1
 * when any file failed.
 */
export async function runSync(src: string, dst: string, opts: SyncOptions): Promise<void> {
  checkArguments(src, dst);
  const concurrency = wholeNumber(opts.concurrency, '--concurrency', 64);
  const maxFiles = wholeNumber(opts.maxFiles, '--max-files', 10_000_000);
  const rate = opts.rateLimit === undefined ? 0 : parseRate(opts.rateLimit, { label: '--rate-limit' });
  const req: PeerDownloadRequest = {
    url: src,
    objectStorage: storageOf({ endpoint: opts.storageEndpoint, region: opts.storageRegion, accessKeyId: opts.storageAccessKeyId, accessKeySecret: opts.storageAccessKeySecret, sessionToken: opts.storageSessionToken }),
    options: isRemote(dst) && schemeOf(dst) === 'oci' ? { platform: 'all' } : undefined,
  };
  const dest = await openTarget(dst, opts);
  const state = await SyncState.open(opts.state ?? defaultStatePath(opts.dataDir ?? defaultDataDir(), src, dest.target.name));
  const client = await connectPeer(opts, 'syncing');
  const abort = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (abort.signal.aborted) process.exit(130);
    abort.abort(new D7yError('D7Y_ABORTED', `${sig}: the sync was cancelled`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const started = performance.now();
    const work = await plan(client, req, state, dest.target, opts, maxFiles);
    const report: SyncReport = {
      src, dst: dest.target.name, dryRun: !!opts.dryRun, copied: 0, skipped: work.skipped, deleted: 0, failed: 0, bytes: 0,
      seconds: 0, fromPeers: 0, fromOrigin: 0, fromCache: 0, failures: [], state: state.path,
    };
    if (opts.dryRun) {
      printPlan(work.copy, work.remove, !!opts.json);
      report.copied = work.copy.length;
      report.deleted = work.remove.length;
      report.bytes = work.copy.reduce((s, e) => s + (e.contentLength ?? 0), 0);
    } else {
      const bucket = new TokenBucket(rate);
      const progress = await syncProgress(opts.progress && !opts.json, work.copy);
      try {
        for (const e of work.present) await state.copied(e.path, recordOf(e));
        await copyPhases(client, req, work.copy, dest.target, state, bucket, concurrency, abort.signal, report, progress.add);
        for (const path of work.remove) {
          if (abort.signal.aborted) break;
          try {
            await dest.target.remove(path, abort.signal);
            await state.removed(path);
            report.deleted++;
          } catch (err) {
            report.failed++;
            report.failures.push({ path, error: messageOf(err) });
          }
        }
      } finally {
        progress.stop();
      }
      await state.compact();
    }
    report.seconds = Math.round(performance.now() - started) / 1000;
    printSummary(report, !!opts.json);
    if (abort.signal.aborted) process.exitCode = 130;
    else if (report.failed > 0) process.exitCode = 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await state.close();
    await client.close();
    await dest.close();
  }
}

/**
 * The task tag of an object's version: a changed object at the same URL is another task, so no
 * peer serves its old bytes, and every host syncing the same listing shares one task per version.
 */
function versionTag(entry: SourceEntry): string {
  return `sync-${createHash('sha256').update(JSON.stringify(recordOf(entry))).digest('hex').slice(0, 16)}`;
}

/** `body` piped through `steps` (backpressure kept); an error anywhere destroys the last one. */
function chain(body: Readable, ...steps: Transform[]): Readable {
  let out: Readable = body;
  for (const step of steps) {
    out.once('error', (err) => step.destroy(err));
    out = out.pipe(step);
  }
  return out;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Copies the entries phase by phase (SourceEntry.phase, lowest first): a phase starts only when
 * every entry before it was copied, else its entries are held back as failed (an index is never
 * written pointing at something missing; the next run copies them).
 */
async function copyPhases(
  client: PeerApi, base: PeerDownloadRequest, files: SourceEntry[], target: SyncTarget, state: SyncState, bucket: TokenBucket,
  concurrency: number, signal: AbortSignal, report: SyncReport, onBytes: (n: number, fileDone: boolean) => void,
): Promise<void> {
  const phases = [...new Set(files.map((e) => e.phase ?? 0))].sort((a, b) => a - b);
  for (const phase of phases) {
    const group = files.filter((e) => (e.phase ?? 0) === phase);
    if (signal.aborted) return;
    if (report.failed > 0) {
      for (const e of group) {
        report.failed++;
        report.failures.push({ path: e.path, error: 'held back: it refers to objects that failed above; run the sync again' });
      }
      continue;
    }
    await copyAll(client, base, group, target, state, bucket, concurrency, signal, report, onBytes);
  }
}

/** Copies the entries, `concurrency` at a time; each one finished is recorded in the state at once. */
async function copyAll(
  client: PeerApi, base: PeerDownloadRequest, files: SourceEntry[], target: SyncTarget, state: SyncState, bucket: TokenBucket,
  concurrency: number, signal: AbortSignal, report: SyncReport, onBytes: (n: number, fileDone: boolean) => void,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length && !signal.aborted) {
      const entry = files[next++];
      try {
        const { body, done } = await client.stream({ ...base, url: entry.url, tag: versionTag(entry) }, signal);
        let bytes = 0;
        const counted = chain(body, ...(bucket.unlimited ? [] : [bucket.throttle()]), new Transform({
          transform: (chunk: Buffer, _enc, cb) => { bytes += chunk.length; onBytes(chunk.length, false); cb(null, chunk); },
        }));
        await target.write(entry, counted, signal);
        const share: Partial<TrafficShare> = await done();
        await state.copied(entry.path, recordOf(entry));
        report.copied++;
        report.bytes += bytes;
        for (const k of ['fromPeers', 'fromOrigin', 'fromCache'] as const) report[k] += share[k] ?? 0;
        onBytes(0, true);
      } catch (err) {
        if (signal.aborted) return;
        report.failed++;
        report.failures.push({ path: entry.path, error: messageOf(err) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));
}
