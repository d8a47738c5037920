import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CurlResult {
  /** curl's exit status (0 ok, 18 partial file, 52 empty reply, 56 receive failure, …). */
  code: number | null;
  /** HTTP status of the last response, 0 when none arrived. */
  status: number;
  /** Response headers of the last response, lower-case names. */
  headers: Record<string, string>;
  body: Buffer;
  stderr: string;
}

/** Runs the real curl (`-sS`, plus `args`), keeping the body as bytes and the last response's headers. */
export function curl(args: string[], timeoutMs = 60_000): Promise<CurlResult> {
  return new Promise((resolve, reject) => {
    const dir = mkdtempSync(join(tmpdir(), 'd7y-curl-'));
    const headerFile = join(dir, 'headers');
    const child = spawn('curl', ['-sS', '-D', headerFile, '-o', '-', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      let dumped = '';
      try {
        dumped = readFileSync(headerFile, 'utf8');
      } catch { /* no response at all */ }
      rmSync(dir, { recursive: true, force: true });
      const blocks = dumped.split(/\r?\n\r?\n/).filter((b) => /^HTTP\/\d(\.\d)? \d{3}/.test(b.trimStart()));
      const last = blocks.at(-1)?.trimStart() ?? '';
      const lines = last.split(/\r?\n/);
      const status = Number(/^HTTP\/\S+ (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      resolve({ code, status, headers, body: Buffer.concat(out), stderr });
    });
  });
}
