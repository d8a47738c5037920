import { runCli } from './run-cli.js';

/** The JSON summary `d7y sync --json` prints last. */
export interface SyncReport {
  copied: number;
  skipped: number;
  deleted: number;
  failed: number;
  bytes: number;
  fromOrigin: number;
  fromCache: number;
  fromPeers: number;
  failures: { path: string; error: string }[];
  state: string;
}

/** Runs `d7y sync <args> --json --no-daemon` (bounded to 120 s) and parses its summary. */
export async function syncCli(env: NodeJS.ProcessEnv, args: string[]): Promise<{ code: number | null; report: SyncReport; stderr: string; stdout: string }> {
  const r = await runCli(['sync', ...args, '--json', '--no-daemon'], { env, timeoutMs: 120_000 });
  const last = r.stdout.trim().split('\n').pop() ?? '{}';
  return { code: r.code, report: JSON.parse(last) as SyncReport, stderr: r.stderr, stdout: r.stdout };
}
