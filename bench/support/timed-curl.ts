import { run } from './processes.js';

/** What one timed curl reported. */
export interface CurlTimes {
  /** curl's `%{speed_download}`, bytes per second. */
  bytesPerSec: number;
  /** Bytes of the body curl received. */
  bytes: number;
  /** The HTTP status. */
  status: number;
  /** User + system CPU-seconds of curl. */
  cpuSeconds: number;
  /** Values of the `extra` write-out variables, in order. */
  extra: string[];
}

/**
 * Runs `curl -sf <args>` to completion under bash, so bash's `times` gives curl's CPU time; `extra`
 * adds write-out variables (e.g. `%header{x-dragonfly-task-id}`) to what is reported.
 */
export async function timedCurl(args: string[], extra: string[] = [], timeoutMs = 600_000): Promise<CurlTimes> {
  const format = ['%{speed_download}', '%{size_download}', '%{http_code}', ...extra].join('\\t');
  // bash's `times` prints the CPU time of its children (curl) on its last line.
  const text = await run('bash', ['-c', `curl -sf -w "${format}\\n" "$@" && times`, 'bash', ...args], timeoutMs);
  const lines = text.trim().split('\n');
  const fields = (lines.find((l) => l.includes('\t')) ?? lines[0] ?? '').split('\t');
  return {
    bytesPerSec: Number(fields[0]), bytes: Number(fields[1]), status: Number(fields[2]), extra: fields.slice(3),
    cpuSeconds: bashTimes(lines.at(-1) ?? ''),
  };
}

/** User + system seconds from the children line of bash's `times` (`0m0.050s 0m1.260s`). */
export function bashTimes(line: string): number {
  const parts = [...line.matchAll(/(\d+)m([\d.]+)s/g)];
  if (parts.length !== 2) throw new Error(`unexpected output of bash's times: ${line}`);
  return parts.reduce((sum, m) => sum + Number(m[1]) * 60 + Number(m[2]), 0);
}
