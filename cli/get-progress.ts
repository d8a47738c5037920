import type { TrafficShare } from '../core/protocol/local-api/download-request.js';
import { humanBytes } from './table.js';

/** Seconds of samples the speed is averaged over. */
const SPEED_WINDOW_MS = 5_000;

/** Bytes per second as a moving average over the last few seconds of samples (bytes fetched so far, rising). */
export class SpeedMeter {
  private readonly samples: { at: number; bytes: number }[] = [];

  constructor(private readonly windowMs = SPEED_WINDOW_MS) {}

  /** Records the bytes held at `at` (ms, monotonic); the samples kept are bounded by the window. */
  add(bytes: number, at = performance.now()): void {
    this.samples.push({ at, bytes });
    while (this.samples.length > 2 && at - this.samples[1].at >= this.windowMs) this.samples.shift();
  }

  /** Bytes per second over the window; 0 until two samples apart in time exist. */
  rate(): number {
    if (this.samples.length < 2) return 0;
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    const ms = last.at - first.at;
    return ms > 0 ? ((last.bytes - first.bytes) * 1000) / ms : 0;
  }
}

/** `3.2 s`, `4m05s`, `1h02m`. */
export function humanDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '-';
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** `12.5 MiB/s`. */
export function humanSpeed(bytesPerSecond: number): string {
  return `${humanBytes(Math.round(bytesPerSecond))}/s`;
}

/** `peers 40% · origin 60% · cache 0%` of the bytes so far; empty when the peer did not say. */
export function shareText(share: Partial<TrafficShare>): string {
  const { fromPeers, fromOrigin, fromCache } = share;
  if (fromPeers === undefined || fromOrigin === undefined || fromCache === undefined) return '';
  const sum = fromPeers + fromOrigin + fromCache;
  const pct = (n: number): string => `${sum > 0 ? Math.round((n * 100) / sum) : 0}%`;
  return `peers ${pct(fromPeers)} · origin ${pct(fromOrigin)} · cache ${pct(fromCache)}`;
}

/** What the summary line of a finished get reports. */
export interface GetSummary {
  bytes: number;
  seconds: number;
  share: Partial<TrafficShare>;
  /** The file, or the directory of a recursive get; unset for stdout. */
  target?: string;
  /** Number of files, for a recursive get. */
  files?: number;
}

/**
 * The one line a finished get prints on stderr, e.g.
 * `d7y: 1.0 GiB in 3.2 s (320.0 MiB/s): 0.9 GiB from peers, 0.1 GiB from the origin, 0 B from the local cache → /path/file`.
 */
export function summaryLine(s: GetSummary): string {
  const what = s.files === undefined ? humanBytes(s.bytes) : `${s.files} file${s.files === 1 ? '' : 's'}, ${humanBytes(s.bytes)}`;
  const speed = s.seconds > 0 ? ` (${humanSpeed(s.bytes / s.seconds)})` : '';
  const { fromPeers, fromOrigin, fromCache } = s.share;
  const split = fromPeers === undefined || fromOrigin === undefined || fromCache === undefined ? ''
    : `: ${humanBytes(fromPeers)} from peers, ${humanBytes(fromOrigin)} from the origin, ${humanBytes(fromCache)} from the local cache`;
  return `d7y: ${what} in ${humanDuration(s.seconds)}${speed}${split} → ${s.target ?? 'stdout'}\n`;
}

/** The values of the bar's tokens for `bytes` of `total` at `rate` bytes/s. */
export function barPayload(bytes: number, total: number, rate: number, share: Partial<TrafficShare>): Record<string, string> {
  const eta = rate > 0 ? humanDuration(Math.max(0, total - bytes) / rate) : '-';
  const text = shareText(share);
  return { done: humanBytes(bytes), size: humanBytes(total), speed: humanSpeed(rate), left: eta, share: text ? ` | ${text}` : '' };
}

/** The format of a get's progress bar (tokens filled by `barPayload`). */
export const BAR_FORMAT = '{bar} {percentage}% | {done} / {size} | {speed} | ETA {left}{share}';
