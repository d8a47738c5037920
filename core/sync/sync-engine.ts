import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import picomatch from 'picomatch';
import { D7yError } from '../errors/d7y-error.js';
import type { SourceEntry } from '../contracts/source-client.js';
import type { PeerApi } from '../protocol/local-api/peer-api.js';
import type { PeerDownloadRequest, TrafficShare } from '../protocol/local-api/download-request.js';
import { TokenBucket } from '../roles/peer/token-bucket.js';
import { SyncState, recordOf, unchanged } from './sync-state.js';
import type { SyncTarget } from './sync-target.js';

/** What a sync run did (`d7y sync --json`, and a copy-mode sync job's run report). */
export interface SyncReport extends TrafficShare {
  src: string;
  dst: string;
  dryRun: boolean;
  copied: number;
  skipped: number;
  deleted: number;
  failed: number;
  /** Bytes copied to the destination. */
  bytes: number;
  seconds: number;
  failures: { path: string; error: string }[];
  /** The sync state file. */
  state: string;
}

/** Which listed paths a sync takes, and whether it removes what the source no longer has. */
export interface SyncSelection {
  include?: string[];
  exclude?: string[];
  delete?: boolean;
}

/** The work of one run: what to copy, what is already there, what to remove. */
export interface SyncPlan {
  copy: SourceEntry[];
  skipped: number;
  /** Skipped because the destination already holds them though no run copied them: recorded in the state. */
  present: SourceEntry[];
  remove: string[];
}

/** Lists `req.url` through the peer and compares it with the state and the destination: what to copy, skip and remove. */
export async function planSync(client: PeerApi, req: PeerDownloadRequest, state: SyncState, target: SyncTarget, opts: SyncSelection, maxFiles: number): Promise<SyncPlan> {
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

/**
 * Carries out a plan: records what the destination already held, copies phase by phase
 * (`concurrency` at a time, each file recorded in the state as it finishes), then removes, then
 * compacts the state; counts into `report`. Never throws for one file: its failure is counted and listed.
 */
export async function applySync(o: {
  client: PeerApi; base: PeerDownloadRequest; plan: SyncPlan; target: SyncTarget; state: SyncState; bucket: TokenBucket;
  concurrency: number; signal: AbortSignal; report: SyncReport; onBytes?: (n: number, fileDone: boolean) => void;
}): Promise<void> {
  for (const e of o.plan.present) await o.state.copied(e.path, recordOf(e));
  await copyPhases(o.client, o.base, o.plan.copy, o.target, o.state, o.bucket, o.concurrency, o.signal, o.report, o.onBytes ?? (() => undefined));
  for (const path of o.plan.remove) {
    if (o.signal.aborted) break;
    try {
      await o.target.remove(path, o.signal);
      await o.state.removed(path);
      o.report.deleted++;
    } catch (err) {
      o.report.failed++;
      o.report.failures.push({ path, error: messageOf(err) });
    }
  }
  await o.state.compact();
}

/** One whole run (plan, copy, remove) with the state file at `statePath`; the report. */
export async function syncOnce(o: {
  client: PeerApi; req: PeerDownloadRequest; target: SyncTarget; statePath: string; selection: SyncSelection;
  concurrency: number; rateLimit: number; maxFiles: number; signal: AbortSignal;
}): Promise<SyncReport> {
  const started = performance.now();
  const state = await SyncState.open(o.statePath);
  try {
    const plan = await planSync(o.client, o.req, state, o.target, o.selection, o.maxFiles);
    const report: SyncReport = {
      src: o.req.url, dst: o.target.name, dryRun: false, copied: 0, skipped: plan.skipped, deleted: 0, failed: 0, bytes: 0,
      seconds: 0, fromPeers: 0, fromOrigin: 0, fromCache: 0, failures: [], state: state.path,
    };
    await applySync({ client: o.client, base: o.req, plan, target: o.target, state, bucket: new TokenBucket(o.rateLimit), concurrency: o.concurrency, signal: o.signal, report });
    report.seconds = Math.round(performance.now() - started) / 1000;
    return report;
  } finally {
    await state.close();
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
