import type { SourceEntry } from '../core/contracts/source-client.js';
import type { SyncReport } from '../core/index.js';
import { SpeedMeter, humanDuration, humanSpeed, shareText } from './get-progress.js';
import { humanBytes } from './table.js';

/** A bar over the bytes to copy, with files done, on a terminal; nothing elsewhere. */
export async function syncProgress(enabled: boolean, files: SourceEntry[]): Promise<{ add: (bytes: number, fileDone: boolean) => void; stop: () => void }> {
  if (!enabled || !process.stderr.isTTY || files.length === 0) return { add: () => undefined, stop: () => undefined };
  const { default: cliProgress } = await import('cli-progress');
  const total = Math.max(1, files.reduce((s, f) => s + (f.contentLength ?? 0), 0));
  const bar = new cliProgress.SingleBar({
    stream: process.stderr, hideCursor: true, clearOnComplete: true,
    format: '{bar} {percentage}% | {files}/{count} files | {done} of {size} | {speed}',
  }, cliProgress.Presets.shades_classic);
  const speed = new SpeedMeter();
  let bytes = 0;
  let done = 0;
  const payload = () => ({ files: done, count: files.length, done: humanBytes(bytes), size: humanBytes(total), speed: humanSpeed(speed.rate()) });
  bar.start(total, 0, payload());
  return {
    add: (n, fileDone) => {
      bytes += n;
      if (fileDone) done++;
      speed.add(bytes);
      bar.update(Math.min(bytes, total), payload());
    },
    stop: () => bar.stop(),
  };
}

/** `--dry-run`: one line per object that would be copied or removed (JSON lines with `--json`). */
export function printPlan(copy: SourceEntry[], remove: string[], json: boolean): void {
  for (const e of copy) {
    process.stdout.write(json ? `${JSON.stringify({ action: 'copy', path: e.path, size: e.contentLength ?? null })}\n` : `copy   ${e.path} (${humanBytes(e.contentLength)})\n`);
  }
  for (const p of remove) process.stdout.write(json ? `${JSON.stringify({ action: 'delete', path: p })}\n` : `delete ${p}\n`);
}

/** The summary: one line on stderr (each failure above it), or one JSON object on stdout. */
export function printSummary(r: SyncReport, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  for (const f of r.failures) process.stderr.write(`d7y: failed ${f.path}: ${f.error}\n`);
  const verb = r.dryRun ? 'dry run, would copy' : 'copied';
  const share = r.dryRun || r.copied === 0 ? '' : ` (${shareText(r)})`;
  const speed = r.seconds > 0 && r.bytes > 0 && !r.dryRun ? `, ${humanSpeed(r.bytes / r.seconds)}` : '';
  process.stderr.write(`d7y sync: ${verb} ${r.copied}, skipped ${r.skipped}, ${r.dryRun ? 'would delete' : 'deleted'} ${r.deleted}, failed ${r.failed}; ${humanBytes(r.bytes)} in ${humanDuration(r.seconds)}${speed}${share} → ${r.dst}\n`);
}
