import { D7yError } from '../core/errors/d7y-error.js';
import { parseRate } from '../core/config/units.js';
import { defaultDataDir } from '../core/config/paths.js';
import type { ObjectStorageOptions } from '../core/contracts/source-client.js';
import type { PeerDownloadRequest } from '../core/protocol/local-api/download-request.js';
import {
  DirectoryTarget, OriginTarget, SyncState, TokenBucket, applySync, defaultStatePath, isRemote, planSync, schemeOf, type SyncReport, type SyncTarget,
} from '../core/index.js';
import { connectPeer } from './peer-connection.js';
import { OciTarget } from './sync-oci-target.js';
import { syncProgress, printPlan, printSummary } from './sync-report.js';

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
    const work = await planSync(client, req, state, dest.target, opts, maxFiles);
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
      const progress = await syncProgress(opts.progress && !opts.json, work.copy);
      try {
        await applySync({
          client, base: req, plan: work, target: dest.target, state, bucket: new TokenBucket(rate), concurrency, signal: abort.signal, report, onBytes: progress.add,
        });
      } finally {
        progress.stop();
      }
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

