import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import type { Teardown } from './teardown.js';

/** A process started by a benchmark: killed by PID at teardown. */
export interface BenchProcess {
  name: string;
  child: ChildProcess;
  pid: number;
  /** Resolves with the exit code (or -1 for a signal) when the process exits. */
  exited: Promise<number>;
}

/**
 * Starts `cmd args` with stdout/stderr appended to `logFile` (or ignored), registers a
 * SIGTERM-then-SIGKILL stop step by PID on `teardown`.
 */
export function startProcess(teardown: Teardown, name: string, cmd: string, args: string[],
  opts: { logFile?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): BenchProcess {
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: { ...process.env, NO_COLOR: '1', ...opts.env },
    stdio: ['ignore', opts.logFile ? 'pipe' : 'ignore', opts.logFile ? 'pipe' : 'ignore'],
  });
  if (opts.logFile) {
    const log = createWriteStream(opts.logFile, { flags: 'a' });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    child.once('close', () => log.end());
  }
  const exited = new Promise<number>((resolve) => {
    child.once('error', () => resolve(-1));
    child.once('exit', (code) => resolve(code ?? -1));
  });
  const proc: BenchProcess = { name, child, pid: child.pid ?? -1, exited };
  teardown.add(`stop ${name}`, () => stopProcess(proc));
  return proc;
}

/** SIGTERM, then SIGKILL after graceMs; resolves when the process has exited. */
export async function stopProcess(p: BenchProcess, graceMs = 4000): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null || p.pid < 0) return;
  try { process.kill(p.pid, 'SIGTERM'); } catch { return; }
  const timer = setTimeout(() => { try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } }, graceMs);
  await p.exited;
  clearTimeout(timer);
}

/** Runs a command to completion (bounded by timeoutMs) and returns its stdout; rejects on non-zero exit. */
export function run(cmd: string, args: string[], timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`}): ${err.trim().slice(0, 500)}`));
    });
  });
}

/** Polls `check` every intervalMs until it returns true; rejects after timeoutMs with `what`. */
export async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Clock ticks per second of /proc's utime and stime (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

/**
 * User + system CPU seconds the processes have used so far, their children's included when
 * `withChildren` (nginx's workers), from /proc; a process that is gone counts 0.
 */
export async function cpuSeconds(pids: number[], withChildren = false): Promise<number> {
  const all = withChildren ? [...pids, ...(await childPids(pids))] : pids;
  const ticks = await Promise.all(all.map(async (pid) => {
    const f = await statFields(pid);
    return f.length > 12 ? Number(f[11]) + Number(f[12]) : 0;
  }));
  return ticks.reduce((a, b) => a + b, 0) / USER_HZ;
}

/** The user and system CPU-seconds a process has used so far (0 and 0 once it is gone). */
export async function cpuSplit(pid: number): Promise<{ user: number; system: number }> {
  const f = await statFields(pid);
  return f.length > 12 ? { user: Number(f[11]) / USER_HZ, system: Number(f[12]) / USER_HZ } : { user: 0, system: 0 };
}

/**
 * Bytes of the process's resident memory that are its own (anonymous: heap, stacks, buffers), not
 * pages of files it maps (the node binary, shared by every node process); 0 if it is gone.
 */
export async function anonymousRssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/^RssAnon:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
}

/** The direct children of the processes, found through /proc. */
export async function childPids(parents: number[]): Promise<number[]> {
  const want = new Set(parents);
  const pids = (await readdir('/proc')).filter((d) => /^\d+$/.test(d)).map(Number);
  const found = await Promise.all(pids.map(async (pid) => (want.has(Number((await statFields(pid))[1])) ? pid : undefined)));
  return found.filter((p): p is number => p !== undefined);
}

/** The fields of /proc/<pid>/stat after the command name (state, ppid, …), or none if it is gone. */
async function statFields(pid: number): Promise<string[]> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat ? stat.slice(stat.lastIndexOf(')') + 2).split(' ') : [];
}
