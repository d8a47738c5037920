import { mkdtemp, rm, stat } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCacheClient } from '../core/protocol/local-api/local-cache-client.js';
import { appendJsonLines, formatTable, parseSizeRuns, sha256File, writeRandomFile } from './support/bench-files.js';
import { D7yLab } from './support/d7y-lab.js';
import type { LabHost } from './support/net-lab.js';
import { run as runCmd } from './support/processes.js';
import { Teardown } from './support/teardown.js';

const LOOPBACK: LabHost = { name: 'lo', ip: '127.0.0.1', index: 0 };


const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/**
 * `npm run bench -- cache-throughput`: on loopback, a scheduler and two peers; per run, interleaved:
 * `cp` of the file on the same disk, `d7y cache import` of it on peer A (its own name each run, one
 * replica, so only the import is timed: read, hash-free since named, pieces written pinned) and
 * `d7y cache export` of it on peer B (every piece from A over Vortex, then the output file), each
 * timed through the local API (no CLI start-up). Medians of MiB/s and of the per-run ratios to cp.
 */
export async function run(argv: string[]): Promise<void> {
  const a = parseSizeRuns(argv, 'cache-throughput');
  const teardown = new Teardown();
  try {
    const workDir = await mkdtemp(join(tmpdir(), 'd7y-bench-cache-'));
    teardown.add('remove work dir', () => rm(workDir, { recursive: true, force: true }));
    const src = join(workDir, 'data.bin');
    const sha = await writeRandomFile(src, a.sizeMiB);
    const bytes = (await stat(src)).size;
    const load = loadavg()[0]!;
    const lab = new D7yLab(teardown, join(workDir, 'd7y'));
    await lab.init();
    const { address } = await lab.scheduler(LOOPBACK, 28104);
    const peerA = await lab.peer({ ...LOOPBACK, name: 'a' }, { seed: false, schedulers: [address], uploadBytesPerSec: 1250 * 1024 * 1024 });
    const peerB = await lab.peer({ ...LOOPBACK, name: 'b' }, { seed: false, schedulers: [address], uploadBytesPerSec: 1250 * 1024 * 1024 });
    const ca = new LocalCacheClient(peerA.socket);
    const cb = new LocalCacheClient(peerB.socket);
    teardown.add('close cache clients', async () => { await ca.close(); await cb.close(); });
    const mibs = bytes / 2 ** 20;
    const rows = { cp: [] as number[], import: [] as number[], export: [] as number[], importRatio: [] as number[], exportRatio: [] as number[] };
    for (let i = 0; i < a.runs; i += 1) {
      const cpOut = join(workDir, `cp-${i}.bin`);
      let t0 = performance.now();
      await runCmd('cp', [src, cpOut], 600_000);
      const cpS = (performance.now() - t0) / 1000;
      await rm(cpOut, { force: true });

      const id = `bench-${i}`;
      t0 = performance.now();
      await ca.import({ path: src, id, replicas: 1, ttlMs: 3_600_000 });
      const importS = (performance.now() - t0) / 1000;

      const out = join(workDir, `export-${i}.bin`);
      t0 = performance.now();
      await cb.export({ id, output: out });
      const exportS = (performance.now() - t0) / 1000;
      if ((await sha256File(out)) !== sha) throw new Error(`run ${i}: the exported file differs from the imported one`);
      await rm(out, { force: true });
      await cb.remove(id);

      rows.cp.push(mibs / cpS);
      rows.import.push(mibs / importS);
      rows.export.push(mibs / exportS);
      rows.importRatio.push(cpS / importS);
      rows.exportRatio.push(cpS / exportS);
      process.stderr.write(`run ${i + 1}/${a.runs}: cp ${cpS.toFixed(2)} s, import ${importS.toFixed(2)} s, export ${exportS.toFixed(2)} s\n`);
    }
    const record = {
      at: new Date().toISOString(), sizeMiB: a.sizeMiB, runs: a.runs, load1: load,
      cpMiBps: median(rows.cp), importMiBps: median(rows.import), exportMiBps: median(rows.export),
      importVsCp: median(rows.importRatio), exportVsCp: median(rows.exportRatio),
    };
    const file = await appendJsonLines(a.out, 'cache-throughput', [record]);
    process.stdout.write(`${formatTable(['what', 'MiB/s (median)', 'speed vs cp (median of runs)'], [
      ['cp', record.cpMiBps.toFixed(0), '1.00'],
      ['d7y cache import (on A)', record.importMiBps.toFixed(0), record.importVsCp.toFixed(2)],
      ['d7y cache export (on B, from A)', record.exportMiBps.toFixed(0), record.exportVsCp.toFixed(2)],
    ])}\n${a.sizeMiB} MiB, ${a.runs} interleaved runs, load ${load.toFixed(2)}; appended to ${file}\n`);
  } finally {
    await teardown.run();
  }
}
