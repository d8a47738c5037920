import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { anonymousRssBytes, cpuSplit } from './processes.js';

/** Where the CPU went while a sampler ran. */
export interface CpuReport {
  /** CPUs of this machine. */
  cores: number;
  /** Mean share of all CPUs that was busy (user, system, interrupts, and time the hypervisor took), 0–1. */
  busy: number;
  /** Share of samples in which the CPUs were at least 95 % busy, 0–1. */
  saturated: number;
  /** CPU-seconds of each named set of processes. */
  seconds: Record<string, number>;
  /** The part of `seconds` spent in the kernel (system time: copies, network, page cache). */
  systemSeconds: Record<string, number>;
  /**
   * The machine's memory in use (all but MemFree: processes and page cache) at its highest sample,
   * MiB; 0 where /proc/meminfo is missing. On a VM whose host backs only part of its memory, pages
   * taken beyond that part cost far more CPU (see the swarm benchmark's README).
   */
  machineMemoryPeakMiB: number;
  /** Each set's anonymous resident memory (heap, stacks, buffers; not mapped files) at its highest sample, MiB. */
  anonymousPeakMiB: Record<string, number>;
}

/** Named sets of processes; a set is asked for its PIDs at every sample, so it may grow. */
export type ProcessSets = Record<string, () => number[]>;

interface Jiffies {
  busy: number;
  total: number;
}

/**
 * The machine's busy and total CPU time so far, from the first line of /proc/stat (user, nice,
 * system, idle, iowait, irq, softirq, steal): all but idle and iowait count as busy, steal too,
 * since the cores were not this machine's then.
 */
async function machineJiffies(): Promise<Jiffies | undefined> {
  const text = await readFile('/proc/stat', 'utf8').catch(() => '');
  const fields = text.slice(0, text.indexOf('\n')).trim().split(/\s+/).slice(1, 9).map(Number);
  if (fields.length < 8 || fields.some((f) => !Number.isFinite(f))) return undefined;
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = fields[3]! + fields[4]!;
  return { busy: total - idle, total };
}

/** Bytes of the machine's memory in use: MemTotal less MemFree (page cache counted), 0 where unknown. */
async function machineMemoryInUse(): Promise<number> {
  const text = await readFile('/proc/meminfo', 'utf8').catch(() => '');
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  const inUse = (kib('MemTotal') - kib('MemFree')) * 1024;
  return Number.isFinite(inUse) ? inUse : 0;
}

/**
 * Samples how busy the machine is and the CPU time of named process sets every `intervalMs`,
 * from `start()` to `stop()`. A process seen first after `start()` is charged its whole life;
 * one that exits keeps what it had used at its last sample (up to one interval is missed).
 */
export class CpuSampler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private readonly base = new Map<number, { user: number; system: number }>();
  private readonly last = new Map<number, { user: number; system: number }>();
  private readonly owner = new Map<number, string>();
  private prev: Jiffies | undefined;
  private busySum = 0;
  private totalSum = 0;
  private samples = 0;
  private saturatedSamples = 0;
  private machineMemoryPeak = 0;
  private readonly anonymousPeak = new Map<string, number>();

  constructor(private readonly sets: ProcessSets, private readonly intervalMs = 200) {}

  /** Takes the baseline (the CPU the processes already used is not charged) and starts sampling. */
  async start(): Promise<void> {
    this.prev = await machineJiffies();
    for (const [name, pids] of Object.entries(this.sets)) {
      for (const pid of pids()) {
        const used = await cpuSplit(pid);
        this.base.set(pid, used);
        this.last.set(pid, used);
        this.owner.set(pid, name);
      }
    }
    this.timer = setInterval(() => {
      this.running = this.running.then(() => this.sample());
    }, this.intervalMs);
  }

  /** Takes a last sample and reports. */
  async stop(): Promise<CpuReport> {
    clearInterval(this.timer);
    await this.running;
    await this.sample();
    const seconds: Record<string, number> = Object.fromEntries(Object.keys(this.sets).map((name) => [name, 0]));
    const systemSeconds: Record<string, number> = { ...seconds };
    for (const [pid, used] of this.last) {
      const name = this.owner.get(pid)!;
      const base = this.base.get(pid) ?? { user: 0, system: 0 };
      seconds[name] = (seconds[name] ?? 0) + used.user + used.system - base.user - base.system;
      systemSeconds[name] = (systemSeconds[name] ?? 0) + used.system - base.system;
    }
    return {
      cores: availableParallelism(),
      busy: this.totalSum > 0 ? this.busySum / this.totalSum : 0,
      saturated: this.samples > 0 ? this.saturatedSamples / this.samples : 0,
      seconds,
      systemSeconds,
      machineMemoryPeakMiB: this.machineMemoryPeak / 2 ** 20,
      anonymousPeakMiB: Object.fromEntries(Object.keys(this.sets).map((name) => [name, (this.anonymousPeak.get(name) ?? 0) / 2 ** 20])),
    };
  }

  private async sample(): Promise<void> {
    const now = await machineJiffies();
    if (now && this.prev && now.total > this.prev.total) {
      const busy = now.busy - this.prev.busy;
      const total = now.total - this.prev.total;
      this.busySum += busy;
      this.totalSum += total;
      this.samples += 1;
      if (busy >= 0.95 * total) this.saturatedSamples += 1;
    }
    this.prev = now ?? this.prev;
    this.machineMemoryPeak = Math.max(this.machineMemoryPeak, await machineMemoryInUse());
    for (const [name, pids] of Object.entries(this.sets)) {
      let anonymous = 0;
      for (const pid of pids()) {
        anonymous += await anonymousRssBytes(pid);
        if (!this.owner.has(pid)) {
          this.owner.set(pid, name);
          this.base.set(pid, { user: 0, system: 0 });
        }
        // A process that is gone reads 0: it keeps the most it was seen using.
        const now = await cpuSplit(pid);
        const last = this.last.get(pid);
        if (!last || now.user + now.system >= last.user + last.system) this.last.set(pid, now);
      }
      this.anonymousPeak.set(name, Math.max(this.anonymousPeak.get(name) ?? 0, anonymous));
    }
  }
}
