import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import picomatch from 'picomatch';
import { D7yError } from '../core/errors/d7y-error.js';
import type { SourceEntry } from '../core/contracts/source-client.js';
import type { PeerApi } from '../core/protocol/local-api/peer-api.js';
import type { PeerDownloadRequest, TrafficShare } from '../core/protocol/local-api/download-request.js';
import { entryTarget } from '../core/index.js';
import { BAR_FORMAT, SpeedMeter, barPayload, summaryLine } from './get-progress.js';

export interface RecursiveOptions {
  include?: string[];
  maxFiles: number;
  concurrency: number;
  progress: boolean;
  /** No summary line at the end. */
  quiet: boolean;
  overwrite: boolean;
}

/** Lists `base.url` through the daemon and keeps the files that match, bounded by maxFiles. */
async function plan(client: PeerApi, base: PeerDownloadRequest, opts: RecursiveOptions): Promise<SourceEntry[]> {
  const match = opts.include?.length ? picomatch(opts.include, { dot: true }) : () => true;
  const files: SourceEntry[] = [];
  for await (const entry of client.listSource({ url: base.url, headers: base.headers, objectStorage: base.objectStorage, hdfs: base.hdfs, options: base.options, timeoutMs: base.timeoutMs })) {
    if (entry.isDirectory || !match(entry.path)) continue;
    files.push(entry);
    if (files.length > opts.maxFiles) {
      throw new D7yError('D7Y_INVALID_ARGUMENT', `${base.url} holds more than ${opts.maxFiles} matching files`, {
        fix: 'raise --max-files, or narrow the selection with --include \'<glob>\'',
      });
    }
  }
  return files;
}

/**
 * `d7y get <prefix> -r -O <dir>`: every file of the listing through P2P, several at a time, written
 * under `dir` at its listed path. Failures of single files are reported together at the end.
 */
export async function runRecursiveGet(client: PeerApi, base: PeerDownloadRequest, dir: string, opts: RecursiveOptions): Promise<void> {
  const root = resolve(dir);
  const files = await plan(client, base, opts);
  if (files.length === 0) {
    throw new D7yError('D7Y_SOURCE_NOT_FOUND', `nothing to download under ${base.url}${opts.include?.length ? ` matching ${opts.include.join(', ')}` : ''}`, {
      fix: 'check the prefix (and --include patterns)',
    });
  }
  const targets = files.map((f) => entryTarget(root, f));
  const started = performance.now();
  const tty = opts.progress && process.stderr.isTTY;
  const multi = tty ? new cliProgress.MultiBar({ stream: process.stderr, hideCursor: true, clearOnComplete: false, format: '{bar} {percentage}% | {name}' }, cliProgress.Presets.shades_classic) : undefined;
  const totalBytes = Math.max(1, files.reduce((s, f) => s + (f.contentLength ?? 0), 0));
  const total = multi?.create(totalBytes, 0, { name: `${files.length} files` }, { format: `${BAR_FORMAT} | {name}` });
  const speed = new SpeedMeter();
  speed.add(0);
  const share: TrafficShare = { fromPeers: 0, fromOrigin: 0, fromCache: 0 };
  const current = new Map<number, Partial<TrafficShare>>();
  const shareNow = (): TrafficShare => {
    const sum = { ...share };
    for (const s of current.values()) for (const k of ['fromPeers', 'fromOrigin', 'fromCache'] as const) sum[k] += s[k] ?? 0;
    return sum;
  };
  let received = 0;
  const showTotal = (): void => {
    if (!total) return;
    speed.add(received);
    total.update(Math.min(received, totalBytes), barPayload(received, totalBytes, speed.rate(), shareNow()));
  };
  const failures: string[] = [];
  let next = 0;
  let doneBytes = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const i = next++;
      const file = files[i];
      const bar = multi?.create(Math.max(1, file.contentLength ?? 1), 0, { name: file.path });
      let last = 0;
      try {
        await mkdir(join(targets[i], '..'), { recursive: true });
        const result = await client.download({ ...base, url: file.url, output: targets[i], overwrite: opts.overwrite || undefined, digest: undefined, range: undefined }, (ev) => {
          if (ev.event !== 'progress') return;
          bar?.update(ev.bytes);
          received += ev.bytes - last;
          last = ev.bytes;
          current.set(i, ev);
          showTotal();
        });
        doneBytes += result.bytes;
        for (const k of ['fromPeers', 'fromOrigin', 'fromCache'] as const) share[k] += result[k] ?? 0;
        received += result.bytes - last;
        showTotal();
      } catch (err) {
        failures.push(`${file.path}: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        current.delete(i);
        if (bar) multi?.remove(bar);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(opts.concurrency, files.length) }, worker));
  } finally {
    multi?.stop();
  }
  if (failures.length) {
    throw new D7yError('D7Y_SOURCE_ERROR', `${failures.length} of ${files.length} files failed:\n  ${failures.join('\n  ')}`, {
      fix: 'fix the cause shown for each file and run the command again (files already downloaded are local hits)',
    });
  }
  const seconds = Math.round(performance.now() - started) / 1000;
  if (!opts.quiet) process.stderr.write(summaryLine({ bytes: doneBytes, seconds, share, target: root, files: files.length }));
}
