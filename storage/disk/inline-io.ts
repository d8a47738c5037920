import { openSync, readSync, writevSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** A call on the event loop blocked longer than this may show the disk, not the page cache, answering. */
const SLOW_MS = 4;
/** Slow calls blocking the event loop for more than this in SLOW_WINDOW_MS show it does. */
const BLOCKED_BUDGET_MS = 100;
const SLOW_WINDOW_MS = 1_000;
/** How long positioned I/O goes to libuv's threadpool once the disk showed it is answering. */
const THREADPOOL_MS = 5_000;
/** How often, at most, the thread's CPU wait is read before a call (reading it costs a system call). */
const BASELINE_MS = 50;

/**
 * Where a content file's positioned reads and writes run. Inline (a synchronous call on the event
 * loop) while the page cache answers them: a 256 KiB write into the cache or a read of pages just
 * written is a copy of tens of microseconds, and handing it to libuv's threadpool (a wake-up of a
 * worker, one back, a promise) costs more CPU than the copy. When the disk is answering (the
 * kernel throttling writes to a busy disk, or reads of pages not in memory) the process's file I/O
 * goes to the threadpool for THREADPOOL_MS once calls each blocked longer than SLOW_MS have held
 * the event loop for more than BLOCKED_BUDGET_MS within SLOW_WINDOW_MS (a tenth of its time). A
 * few such calls (a handful of 5–30 ms are common as a new file's first pieces land) leave the I/O
 * inline: the threadpool would cost every later call its hand-off for THREADPOOL_MS, and its
 * writes in flight contend for the file. So a slow disk holds the event loop for about
 * BLOCKED_BUDGET_MS at a time at most. Time the thread spent waiting for a CPU (`cpuWait`: another
 * process ran, on a busy host) is not the disk's: a call is judged by its time less the CPU wait
 * since a baseline read at most BASELINE_MS before it.
 */
export class InlineIo {
  private threadpoolUntil = 0;
  private baselineAt = -Infinity;
  private baselineWait = 0;
  /** The slow calls of the last SLOW_WINDOW_MS: when each ended and how long it blocked. */
  private slow: { at: number; ms: number }[] = [];

  /**
   * `now` and `cpuWait` (milliseconds this thread has waited for a CPU so far; 0 where unknown)
   * are clocks, given by tests.
   */
  constructor(
    private readonly now: () => number = () => performance.now(),
    private readonly cpuWait: () => number = threadCpuWait(),
  ) {}

  /** Whether the next call should run inline. */
  get inline(): boolean {
    return this.threadpoolUntil === 0 || this.now() >= this.threadpoolUntil;
  }

  /** Writes all of `buffers` at `position` inline; throws the errno error of a failed write. */
  writeAll(fd: number, buffers: Buffer[], position: number): void {
    const started = this.started();
    let rest = buffers;
    let at = position;
    try {
      while (rest.length > 0) {
        const wrote = writevSync(fd, rest, at);
        if (wrote <= 0) throw Object.assign(new Error('no bytes written'), { code: 'EIO' });
        at += wrote;
        rest = skipBytes(rest, wrote);
      }
    } finally {
      this.took(started);
    }
  }

  /** Reads up to `length` bytes at `position` into `buffer` inline; returns how many were read. */
  read(fd: number, buffer: Buffer, length: number, position: number): number {
    const started = this.started();
    try {
      return readSync(fd, buffer, 0, length, position);
    } finally {
      this.took(started);
    }
  }

  /** The time a call starts, with the CPU-wait baseline renewed when it is older than BASELINE_MS. */
  private started(): number {
    const now = this.now();
    if (now - this.baselineAt > BASELINE_MS) {
      this.baselineAt = now;
      this.baselineWait = this.cpuWait();
    }
    return now;
  }

  private took(started: number): void {
    const now = this.now();
    if (now - started <= SLOW_MS) return;
    const waited = this.cpuWait();
    const blocked = now - started - (waited - this.baselineWait);
    this.baselineAt = now;
    this.baselineWait = waited;
    if (blocked <= SLOW_MS) return;
    const recent = this.slow.filter((c) => now - c.at <= SLOW_WINDOW_MS);
    recent.push({ at: now, ms: blocked });
    if (recent.reduce((sum, c) => sum + c.ms, 0) > BLOCKED_BUDGET_MS) {
      this.threadpoolUntil = now + THREADPOOL_MS;
      this.slow = [];
      return;
    }
    this.slow = recent;
  }
}

/**
 * Milliseconds the calling thread has waited on a run queue (Linux's /proc/thread-self/schedstat,
 * one positioned read of a file kept open); where that file does not exist, always 0.
 */
export function threadCpuWait(): () => number {
  let fd: number | undefined;
  let unavailable = false;
  const text = Buffer.allocUnsafe(96);
  return () => {
    if (unavailable) return 0;
    try {
      fd ??= openSync('/proc/thread-self/schedstat', 'r');
      // "<ns on a CPU> <ns waiting on a run queue> <time slices>"
      const fields = text.toString('latin1', 0, readSync(fd, text, 0, text.length, 0)).split(' ');
      return Number(fields[1]) / 1e6 || 0;
    } catch {
      unavailable = true;
      return 0;
    }
  };
}

/** The process's one switch: the page cache is shared by every task, so is its slowness. */
export const inlineIo = new InlineIo();

/** `buffers` without their first `count` bytes. */
export function skipBytes(buffers: Buffer[], count: number): Buffer[] {
  let left = count;
  const out: Buffer[] = [];
  for (const b of buffers) {
    if (left >= b.length) { left -= b.length; continue; }
    out.push(left > 0 ? b.subarray(left) : b);
    left = 0;
  }
  return out;
}
