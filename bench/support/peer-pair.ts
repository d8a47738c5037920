import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { D7yLab, type D7yLabOptions, type LabDaemon } from './d7y-lab.js';
import type { LabHost } from './net-lab.js';
import { originBytesServed, startOrigin } from './origin-server.js';
import { cpuSeconds, stopProcess } from './processes.js';
import type { Teardown } from './teardown.js';

const LOOPBACK: LabHost = { name: 'lo', ip: '127.0.0.1', index: 0 };

/** Peak resident set sizes (bytes) sampled every 50 ms while a function runs. */
export async function sampleRss<T>(pids: number[], fn: () => Promise<T>): Promise<{ result: T; peaks: number[] }> {
  const peaks = pids.map(() => 0);
  const tick = async (): Promise<void> => {
    await Promise.all(pids.map(async (pid, i) => {
      const kb = /VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8').catch(() => ''))?.[1];
      if (kb) peaks[i] = Math.max(peaks[i]!, Number(kb) * 1024);
    }));
  };
  const timer = setInterval(() => void tick(), 50);
  try {
    const result = await fn();
    await tick();
    return { result, peaks };
  } finally {
    clearInterval(timer);
  }
}

/** VmHWM (peak RSS since start, bytes) of a process, or undefined. */
export async function highWaterMark(pid: number): Promise<number | undefined> {
  const kb = /VmHWM:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8').catch(() => ''))?.[1];
  return kb ? Number(kb) * 1024 : undefined;
}

/**
 * A loopback pair: nginx as origin, a scheduler, and a seed peer that has already fetched the
 * file (so it is the parent); `originBytes` tells whether a later fetch touched the origin.
 */
export class PeerPair {
  private peers = 0;

  private constructor(private readonly d7y: D7yLab, readonly scheduler: string, readonly seed: LabDaemon, readonly url: string,
    private readonly accessLog: string) {}

  /** Body bytes the origin has sent for GETs so far (the seed's fetch included). */
  originBytes(): Promise<number> {
    return originBytesServed(this.accessLog);
  }

  /** `opts`: other ports (to run several pairs at once) and what the lab's daemons share (TLS, disk config). */
  static async start(teardown: Teardown, workDir: string, root: string, fileName: string, timeoutMs: number,
    opts: { originPort?: number; schedulerPort?: number; lab?: D7yLabOptions } = {}): Promise<PeerPair> {
    const accessLog = join(workDir, 'origin-access.log');
    const originPort = opts.originPort ?? 28180;
    await startOrigin(teardown, LOOPBACK, root, originPort, workDir, `/${fileName}`, accessLog);
    const d7y = new D7yLab(teardown, join(workDir, 'd7y'), opts.lab);
    await d7y.init();
    const { address } = await d7y.scheduler(LOOPBACK, opts.schedulerPort ?? 28102);
    const seed = await d7y.peer(LOOPBACK, { seed: true, schedulers: [address], uploadBytesPerSec: 1250 * 1024 * 1024 });
    const url = `http://127.0.0.1:${originPort}/${fileName}`;
    const warm = d7y.get(seed, url, join(workDir, 'seed.out'), timeoutMs);
    if (await warm.exited !== 0) throw new Error(`the seed peer could not fetch ${url}; see ${seed.logFile}`);
    return new PeerPair(d7y, address, seed, url, accessLog);
  }

  /** A fresh peer daemon, with the seed as its only possible parent; `peer` is merged into its peer section. */
  newPeer(peer?: Record<string, unknown>): Promise<LabDaemon> {
    this.peers += 1;
    return this.d7y.peer({ ...LOOPBACK, name: `lo${this.peers}` }, { seed: false, schedulers: [this.scheduler], uploadBytesPerSec: 1250 * 1024 * 1024, peer });
  }

  /**
   * Runs `fn` (a download by `peer`) and charges it the CPU-seconds the seed and `peer` used
   * meanwhile; rejects when the origin served more than 1 % of `bytes` meanwhile, since the bytes
   * were to come from the seed.
   */
  async fromSeed<T>(peer: LabDaemon, bytes: number, fn: () => Promise<T>): Promise<{ result: T; seedCpu: number; peerCpu: number }> {
    const before = await this.originBytes();
    const [seed0, peer0] = [await cpuSeconds([this.seed.proc.pid]), await cpuSeconds([peer.proc.pid])];
    const result = await fn();
    const seedCpu = (await cpuSeconds([this.seed.proc.pid])) - seed0;
    const peerCpu = (await cpuSeconds([peer.proc.pid])) - peer0;
    const fromOrigin = (await this.originBytes()) - before;
    if (fromOrigin > bytes / 100) throw new Error(`the peer read ${fromOrigin} bytes from the origin instead of the seed peer; see ${peer.logFile}`);
    return { result, seedCpu, peerCpu };
  }

  /** Stops a peer of `newPeer` and removes its data. */
  async retire(peer: LabDaemon): Promise<void> {
    await stopProcess(peer.proc);
    await rm(peer.dataDir, { recursive: true, force: true });
  }

  /** Times `d7y get` of the file on `peer` into `output` (bounded by timeoutMs). */
  async fetch(peer: LabDaemon, output: string, timeoutMs: number): Promise<{ seconds: number; code: number }> {
    const t0 = performance.now();
    const get = this.d7y.get(peer, this.url, output, timeoutMs);
    const timer = setTimeout(() => void stopProcess(get), timeoutMs);
    const code = await get.exited;
    clearTimeout(timer);
    return { seconds: (performance.now() - t0) / 1000, code };
  }
}
