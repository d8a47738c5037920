import { rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { appendJsonLines, benchWorkDir, formatTable, parseSizeRuns, sha256File } from './support/bench-files.js';
import { PeerPair } from './support/peer-pair.js';
import { median } from './support/stats.js';
import { Teardown } from './support/teardown.js';

/**
 * `npm run bench -- metrics-overhead [--size 1024] [--runs 6]`: the peer → peer transfer of the
 * throughput benchmark (seed peer → a fresh peer, `d7y get -O file`, on loopback), with the
 * receiving peer's metrics on (`peer.metrics.enabled`, every piece counted) and off (nothing
 * counted), interleaved run by run; medians of MB/s and of the receiving peer's CPU-s per GiB.
 */
export async function run(argv: string[]): Promise<void> {
  const a = parseSizeRuns(argv, 'metrics-overhead');
  const teardown = new Teardown();
  try {
    const { workDir, root, sha, bytes } = await benchWorkDir(teardown, 'd7y-bench-metrics-', a.sizeMiB);
    const gib = bytes / 2 ** 30;
    const load = loadavg()[0]!;
    const pair = await PeerPair.start(teardown, workDir, root, 'data.bin', 600_000);
    const results = { on: { mbps: [] as number[], cpu: [] as number[] }, off: { mbps: [] as number[], cpu: [] as number[] } };
    const once = async (mode: 'on' | 'off', i: number): Promise<void> => {
      const peer = await pair.newPeer({ metrics: { enabled: mode === 'on', listen: { port: 0 } } });
      const out = join(workDir, `${mode}-${i}.bin`);
      const measuredRun = await pair.fromSeed(peer, bytes, () => pair.fetch(peer, out, 600_000)).finally(() => pair.retire(peer));
      const { result: r, peerCpu } = measuredRun;
      if (r.code !== 0) throw new Error(`d7y get from the seed peer failed (exit ${r.code}); see ${out}.log and ${peer.logFile}`);
      if (await sha256File(out) !== sha) throw new Error(`d7y get wrote a file whose sha256 differs from the origin's (${out})`);
      results[mode].mbps.push(bytes / r.seconds / 1e6);
      results[mode].cpu.push(peerCpu / gib);
      await rm(out, { force: true });
    };
    // A run whose peer fell back to the origin (a parent too slow on a busy machine) measures
    // something else: it is discarded and done again, at most twice; then the pair is left out.
    let discarded = 0;
    const measured = async (mode: 'on' | 'off', i: number): Promise<boolean> => {
      for (let attempt = 0; attempt < 3; attempt += 1) {
        try {
          await once(mode, i);
          return true;
        } catch (err) {
          if (!/from the origin instead of the seed/.test((err as Error).message)) throw err;
          discarded += 1;
        }
      }
      return false;
    };
    for (let i = 0; i < a.runs; i += 1) {
      const [first, second] = i % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const);
      const n = { on: results.on.mbps.length, off: results.off.mbps.length };
      if (!(await measured(first, i)) || !(await measured(second, i))) {
        for (const m of ['on', 'off'] as const) { results[m].mbps.length = n[m]; results[m].cpu.length = n[m]; }
        continue;
      }
      console.error(`run ${i}: on ${results.on.mbps.at(-1)!.toFixed(0)} MB/s, off ${results.off.mbps.at(-1)!.toFixed(0)} MB/s`);
    }
    if (results.on.mbps.length === 0) throw new Error(`every run fell back to the origin (${discarded} attempts); the machine is too busy to measure`);
    const f = (xs: number[], d = 0): string => xs.map((x) => x.toFixed(d)).join(' ');
    console.log(formatTable(['receiving peer', 'MB/s (median)', 'runs MB/s', 'CPU-s per GiB (median)', 'runs'], [
      ['metrics on', median(results.on.mbps).toFixed(0), f(results.on.mbps), median(results.on.cpu).toFixed(2), f(results.on.cpu, 2)],
      ['metrics off', median(results.off.mbps).toFixed(0), f(results.off.mbps), median(results.off.cpu).toFixed(2), f(results.off.cpu, 2)],
    ]));
    const ratio = median(results.on.mbps.map((x, i) => x / results.off.mbps[i]!));
    console.log(`ratio on / off: ${ratio.toFixed(3)} (median of per-run ratios over ${results.on.mbps.length} pairs; goal ≥ 0.97); `
      + `${discarded} attempt(s) discarded (the peer fell back to the origin); load average ${load.toFixed(2)} at the start, ${loadavg()[0]!.toFixed(2)} at the end`);
    const file = await appendJsonLines(a.out, 'metrics-overhead', [{
      bench: 'metrics-overhead', at: new Date().toISOString(), sizeMiB: a.sizeMiB, runs: a.runs, loadavg1: Math.round(load * 100) / 100,
      onMBps: results.on.mbps.map(Math.round), offMBps: results.off.mbps.map(Math.round), ratio: Math.round(ratio * 1000) / 1000, discarded,
      onCpuSecondsPerGiB: results.on.cpu.map((x) => Math.round(x * 100) / 100), offCpuSecondsPerGiB: results.off.cpu.map((x) => Math.round(x * 100) / 100),
    }]);
    console.log(`results: ${file}`);
  } finally {
    await teardown.run();
  }
}
