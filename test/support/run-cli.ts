import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { d7yBin } from './env.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  /** stdout as bytes, for binary output (`-O -`). */
  stdoutBytes: Buffer;
  stderr: string;
}

/** Runs `d7y <args>` to completion (bounded by timeoutMs) and returns its output. */
export function runCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [d7yBin, ...args], {
      cwd: options.cwd,
      env: { ...process.env, NO_COLOR: '1', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { chunks.push(d); });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(chunks);
      resolve({ code, stdout: stdoutBytes.toString('utf8'), stdoutBytes, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** Starts a long-running `d7y` process (with `nodeArgs` before the bin); it is killed by PID when the test ends. */
export function startCli(t: ExecutionContext, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; nodeArgs?: string[] } = {}): ChildProcess {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), d7yBin, ...args], {
    cwd: options.cwd,
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => stopProcess(child));
  keepLog(child, args);
  return child;
}

/** With D7Y_TEST_LOGS=<dir>, a started process's output is also kept in `<dir>/<pid>-<command>.log`. */
function keepLog(child: ChildProcess, args: string[]): void {
  const dir = process.env.D7Y_TEST_LOGS;
  if (!dir || child.pid === undefined) return;
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${child.pid}-${args.filter((a) => /^[\w-]+$/.test(a)).slice(0, 3).join('-')}.log`);
  const append = (d: Buffer): void => appendFileSync(file, d);
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The PIDs of a process's children, grandchildren and so on (from /proc), deepest last. */
function descendants(pid: number): number[] {
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch { /* gone already */ }
  return children.flatMap((c) => [c, ...descendants(c)]);
}

/**
 * Starts a long-running `d7y` process on a pseudo-terminal (util-linux `script`), as a person
 * would in a terminal: its stdout and stderr are a TTY, both read from the child's stdout. The
 * d7y process is stopped by its PID, then `script`, when the test ends.
 */
export function startCliOnTerminal(t: ExecutionContext, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
  const command = [process.execPath, d7yBin, ...args].map(shellQuote).join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    cwd: options.cwd,
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(async () => {
    if (child.pid !== undefined) {
      for (const pid of descendants(child.pid).reverse()) {
        try { process.kill(pid, 'SIGTERM'); } catch { /* exited */ }
      }
    }
    await stopProcess(child);
  });
  return child;
}

/** SIGTERM, then SIGKILL after graceMs; resolves when the process has exited. */
export async function stopProcess(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Resolves when `pattern` appears in the process's stderr or stdout; rejects on exit or timeout. */
export function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (d: Buffer) => {
      seen += d.toString();
      if (pattern.test(seen)) { cleanup(); resolve(seen); }
    };
    const onExit = (code: number | null) => { cleanup(); reject(new Error(`process exited (${code}) before ${pattern}: ${seen.slice(-2000)}`)); };
    const timer = setTimeout(() => { cleanup(); reject(new Error(`timed out waiting for ${pattern}: ${seen.slice(-2000)}`)); }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', onExit);
  });
}
