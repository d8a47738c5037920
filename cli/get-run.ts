import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { D7yError } from '../core/errors/d7y-error.js';
import { parseSize } from '../core/config/units.js';
import { parseDigest } from '../core/task/piece-digest.js';
import { parseRangeArg } from '../core/protocol/local-api/range-arg.js';
import { checkOutputPath } from '../core/protocol/local-api/output-path.js';
import type { PeerDownloadEvent, PeerDownloadRequest, PeerDownloadResult } from '../core/protocol/local-api/download-request.js';
import { connectPeer } from './peer-connection.js';
import { resolveOutputPath } from './output-name.js';
import { parseDurationFlag } from './duration-flag.js';
import { BAR_FORMAT, SpeedMeter, barPayload, summaryLine } from './get-progress.js';
import { activeSpan } from '../core/logging/tracing.js';

/** The options of `d7y get`, as commander parses them. */
export interface GetOptions {
  output: string;
  progress: boolean;
  header?: string[];
  tag?: string;
  application?: string;
  pieceLength?: string;
  digest?: string;
  range?: string;
  disableBackToSource?: boolean;
  timeout?: string;
  overwrite?: boolean;
  /** Make the output a hard link of the peer's copy (checked for edits before reuse). */
  hardlink?: boolean;
  /** Make the output a plain copy (no reflink attempt). */
  copy?: boolean;
  socket?: string;
  storageEndpoint?: string;
  storageRegion?: string;
  storageAccessKeyId?: string;
  storageAccessKeySecret?: string;
  storageSessionToken?: string;
  recursive?: boolean;
  include?: string[];
  maxFiles: string;
  concurrency: string;
  /** true: a daemon must answer; false: never use one (an embedded peer); unset: a daemon if one listens. */
  daemon?: boolean;
  config?: string;
  dataDir?: string;
  pluginsFile?: string;
  /** Print one JSON object with the result at the end. */
  json?: boolean;
  /** Print nothing on success (errors still go to stderr). */
  quiet?: boolean;
}


function parseHeaders(list: string[] = []): Record<string, string> | undefined {
  if (list.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const h of list) {
    const at = h.indexOf(':');
    if (at <= 0) throw new D7yError('D7Y_INVALID_ARGUMENT', `header "${h}" is not "name: value"`, { fix: 'write --header "Name: value"' });
    out[h.slice(0, at).trim()] = h.slice(at + 1).trim();
  }
  return out;
}

/** The download request of the command line (output resolved, flags validated). */
export function buildRequest(url: string, opts: GetOptions): PeerDownloadRequest {
  if (opts.digest) parseDigest(opts.digest);
  const storage = {
    endpoint: opts.storageEndpoint, region: opts.storageRegion, accessKeyId: opts.storageAccessKeyId,
    accessKeySecret: opts.storageAccessKeySecret, sessionToken: opts.storageSessionToken,
  };
  const hasStorage = Object.values(storage).some((v) => v !== undefined);
  return {
    url,
    headers: parseHeaders(opts.header),
    tag: opts.tag,
    application: opts.application,
    pieceLength: opts.pieceLength === undefined ? undefined : parseSize(opts.pieceLength, { label: '--piece-length' }),
    digest: opts.digest,
    range: opts.range === undefined ? undefined : parseRangeArg(opts.range),
    disableBackToSource: opts.disableBackToSource || undefined,
    timeoutMs: opts.timeout === undefined ? undefined : parseDurationFlag(opts.timeout, '--timeout'),
    objectStorage: hasStorage ? storage : undefined,
    output: opts.output === '-' ? undefined : resolve(opts.output),
    overwrite: opts.overwrite || undefined,
    outputMode: opts.hardlink ? 'hardlink' : opts.copy ? 'copy' : undefined,
  };
}

/** A bar on a terminal (human sizes, speed, ETA, the share from peers, origin and cache); nothing elsewhere. */
async function progressBar(enabled: boolean): Promise<{ onEvent: (ev: PeerDownloadEvent) => void; stop: () => void }> {
  if (!enabled || !process.stderr.isTTY) return { onEvent: () => undefined, stop: () => undefined };
  const { default: cliProgress } = await import('cli-progress');
  const bar = new cliProgress.SingleBar({ stream: process.stderr, hideCursor: true, clearOnComplete: true, format: BAR_FORMAT }, cliProgress.Presets.shades_classic);
  const speed = new SpeedMeter();
  speed.add(0);
  let started = false;
  return {
    onEvent: (ev) => {
      if (ev.event !== 'progress' || ev.total === undefined) return;
      const bytes = Math.min(ev.bytes, ev.total);
      speed.add(bytes - (ev.fromCache ?? 0));
      const payload = barPayload(bytes, ev.total, speed.rate(), ev);
      if (!started) { bar.start(ev.total, bytes, payload); started = true; } else bar.update(bytes, payload);
    },
    stop: () => { if (started) bar.stop(); },
  };
}

function positiveInt(text: string, flag: string, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `${flag} ${text} is not a whole number from 1 to ${max}`, { fix: `give ${flag} a value from 1 to ${max}` });
  }
  return n;
}

async function runRecursive(url: string, opts: GetOptions): Promise<void> {
  if (opts.output === '-') throw new D7yError('D7Y_INVALID_ARGUMENT', '-r writes many files: -O must be a directory, not -', { fix: 'give -O a directory' });
  if (opts.json) throw new D7yError('D7Y_INVALID_ARGUMENT', '--json reports one download, not -r', { fix: 'drop --json, or download one file without -r' });
  if (opts.range || opts.digest) throw new D7yError('D7Y_INVALID_ARGUMENT', '--range and --digest apply to one file, not to -r', { fix: 'drop them, or download one file without -r' });
  const recursive = { include: opts.include, maxFiles: positiveInt(opts.maxFiles, '--max-files', 1_000_000), concurrency: positiveInt(opts.concurrency, '--concurrency', 64), progress: opts.progress && !opts.quiet, quiet: opts.quiet ?? false, overwrite: opts.overwrite ?? false };
  const dir = resolve(opts.output);
  const existing = await stat(dir).catch(() => undefined);
  if (existing && !existing.isDirectory()) throw new D7yError('D7Y_INVALID_ARGUMENT', `${dir} is a file; -r needs a directory`, { fix: 'give -O a directory (it is created when missing)' });
  const base = buildRequest(url, { ...opts, output: '-' });
  const { runRecursiveGet } = await import('./get-recursive.js');
  const client = await connectPeer(opts);
  try {
    await runRecursiveGet(client, base, dir, recursive);
  } finally {
    await client.close();
  }
}

/** `d7y get`: one download (or, with -r, a listing) through the local daemon, or a peer embedded in this process. */
export async function runGet(url: string, opts: GetOptions): Promise<void> {
  if (opts.recursive) return runRecursive(url, opts);
  const tracing = await cliTracing(opts);
  if (!tracing) return getOne(url, opts);
  const { inSpan } = await import('../core/logging/tracing.js');
  try {
    await inSpan('d7y.get', {}, () => getOne(url, opts));
  } finally {
    await tracing.shutdown();
  }
}

/**
 * Tracing for this `d7y get` when the config (`-c`, or `D7Y_TRACING__*` variables) turns it on;
 * the config is read only then, so a plain get stays light.
 */
async function cliTracing(opts: GetOptions): Promise<{ shutdown(): Promise<void> } | undefined> {
  if (opts.config === undefined && !Object.keys(process.env).some((k) => k.startsWith('D7Y_TRACING__'))) return undefined;
  const [{ loadRoleConfig }, { startTracing }] = await Promise.all([import('./role-options.js'), import('../core/logging/tracing.js')]);
  const config = await loadRoleConfig({ config: opts.config, dataDir: opts.dataDir, pluginsFile: opts.pluginsFile });
  return startTracing(config.tracing);
}

async function getOne(url: string, opts: GetOptions): Promise<void> {
  if (opts.json && opts.output === '-') {
    throw new D7yError('D7Y_INVALID_ARGUMENT', '--json cannot go with -O -: the file\'s bytes are what stdout carries', { fix: 'give -O a file or directory, or drop --json' });
  }
  const output = opts.output === '-' ? '-' : await resolveOutputPath(url, opts.output);
  const req = buildRequest(url, { ...opts, output });
  if (req.output) await checkOutputPath(req.output, req.overwrite ?? false);
  const started = performance.now();
  const client = await connectPeer(opts);
  const timeout = req.timeoutMs ? AbortSignal.timeout(req.timeoutMs + 5_000) : undefined;
  const cancel = cancelOnSignal();
  const signal = timeout ? AbortSignal.any([timeout, cancel.signal]) : cancel.signal;
  try {
    if (!req.output) {
      const { body, done } = await client.stream(req, signal);
      let bytes = 0;
      body.on('data', (c: Buffer) => { bytes += c.length; });
      await pipeline(body, process.stdout, { end: false });
      const share = await done();
      if (!opts.quiet) process.stderr.write(summaryLine({ bytes, seconds: secondsSince(started), share }));
      return;
    }
    const bar = await progressBar(opts.progress && !opts.quiet && !opts.json);
    let result: PeerDownloadResult;
    try {
      result = await client.download(req, bar.onEvent, signal);
    } finally {
      bar.stop();
    }
    activeSpan()?.setAttribute('d7y.task_id', result.taskId);
    const seconds = secondsSince(started);
    const output = result.output ?? req.output;
    if (opts.json) {
      const { taskId, bytes, contentLength, localHit, outputMode, fromPeers, fromOrigin, fromCache } = result;
      process.stdout.write(`${JSON.stringify({ taskId, url, output, bytes, contentLength, localHit, outputMode: outputMode ?? null, seconds, fromPeers, fromOrigin, fromCache })}\n`);
    } else if (!opts.quiet) {
      process.stderr.write(summaryLine({ bytes: result.bytes, seconds, share: result, target: output }));
    }
  } catch (err) {
    if (cancel.signal.aborted) {
      process.stderr.write(`d7y: cancelled${req.output ? `; nothing was written to ${req.output}` : ''}; the pieces fetched so far are kept, so the next get resumes\n`);
      process.exitCode = 130;
      return;
    }
    if (timeout?.aborted && !(err instanceof D7yError)) {
      throw new D7yError('D7Y_TIMEOUT', `download of ${url} did not finish within ${opts.timeout}`, { fix: 'raise --timeout' });
    }
    throw err;
  } finally {
    cancel.dispose();
    await client.close();
  }
}

function secondsSince(started: number): number {
  return Math.round(performance.now() - started) / 1000;
}

/** An abort on the first SIGINT or SIGTERM (the download is cancelled cleanly); a second one exits at once. */
function cancelOnSignal(): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (ac.signal.aborted) process.exit(130);
    ac.abort(new D7yError('D7Y_ABORTED', `${sig}: the download was cancelled`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: ac.signal,
    dispose: () => { process.off('SIGINT', onSignal); process.off('SIGTERM', onSignal); },
  };
}
