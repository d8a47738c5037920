import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { D7yError } from '../core/index.js';
import { appendJsonLines, formatTable, writeRandomFile } from './support/bench-files.js';
import { PeerPair, sampleRss } from './support/peer-pair.js';
import { stopProcess } from './support/processes.js';
import { Teardown } from './support/teardown.js';

const MIB = 1024 * 1024;

function parse(argv: string[]): { sizesMiB: number[]; out?: string } {
  try {
    const { values } = parseArgs({ args: argv, strict: true, options: { size: { type: 'string' }, out: { type: 'string' } } });
    const sizesMiB = (values.size ?? '2048').split(',').map(Number);
    if (sizesMiB.some((s) => !Number.isInteger(s) || s < 1)) throw new Error('--size must be whole MiB numbers, comma-separated');
    return { sizesMiB, out: values.out };
  } catch (err) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `memory: ${(err as Error).message}`, { fix: 'run: npm run bench -- memory [--size 2048[,512]] [--out file.jsonl]' });
  }
}

/**
 * `npm run bench -- memory`: peak RSS (sampled every 50 ms) of a fresh peer downloading the file
 * from a seed peer, and of the seed peer serving it, on loopback; one run per size.
 */
export async function run(argv: string[]): Promise<void> {
  const a = parse(argv);
  const rows: (string | number)[][] = [];
  const records: object[] = [];
  for (const sizeMiB of a.sizesMiB) {
    const teardown = new Teardown();
    try {
      const workDir = await mkdtemp(join(tmpdir(), 'd7y-bench-mem-'));
      teardown.add('remove work dir', () => rm(workDir, { recursive: true, force: true }));
      const root = join(workDir, 'origin');
      await writeRandomFile(join(root, 'data.bin'), sizeMiB);
      const pair = await PeerPair.start(teardown, workDir, root, 'data.bin', 1_800_000);
      await rm(join(workDir, 'seed.out'), { force: true });
      const peer = await pair.newPeer();
      const load = loadavg()[0]!;
      const idle = (await sampleRss([peer.proc.pid, pair.seed.proc.pid], async () => new Promise((r) => setTimeout(r, 200)))).peaks;
      const { result, peaks } = await sampleRss([peer.proc.pid, pair.seed.proc.pid], () => pair.fetch(peer, join(workDir, 'peer.out'), 1_800_000));
      if (result.code !== 0) throw new Error(`d7y get failed (exit ${result.code}); see ${peer.logFile}`);
      await stopProcess(peer.proc);
      const mib = (b: number): number => Math.round((b / MIB) * 10) / 10;
      rows.push([sizeMiB, mib(idle[0]!), mib(peaks[0]!), mib(idle[1]!), mib(peaks[1]!), result.seconds.toFixed(1), load.toFixed(2)]);
      records.push({ bench: 'memory', at: new Date().toISOString(), sizeMiB, loadavg1: Math.round(load * 100) / 100,
        downloaderIdleMiB: mib(idle[0]!), downloaderPeakMiB: mib(peaks[0]!), seedIdleMiB: mib(idle[1]!), seedPeakMiB: mib(peaks[1]!),
        seconds: Math.round(result.seconds * 10) / 10 });
    } finally {
      await teardown.run();
    }
  }
  console.log(formatTable(['MiB', 'downloader idle', 'downloader peak', 'seed idle', 'seed peak (serving)', 'get s', 'load'], rows));
  console.log('RSS in MiB; goal: peak ≤ 150 MiB and flat with size');
  console.log(`results: ${await appendJsonLines(a.out, 'memory', records)}`);
}
