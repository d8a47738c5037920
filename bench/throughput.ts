import { rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { appendJsonLines, benchWorkDir, formatTable, parseSizeRuns, recyclePages, sha256File } from './support/bench-files.js';
import type { LabHost } from './support/net-lab.js';
import { startOrigin } from './support/origin-server.js';
import { d7yBin } from './support/d7y-lab.js';
import { PeerPair } from './support/peer-pair.js';
import { digestCost, formatDigestCost } from './support/digest-cost.js';
import { cpuSeconds, run as runCmd, startProcess, stopProcess, type BenchProcess } from './support/processes.js';
import { median } from './support/stats.js';
import { bashTimes, timedCurl } from './support/timed-curl.js';
import { Teardown } from './support/teardown.js';

const LOOPBACK: LabHost = { name: 'lo', ip: '127.0.0.1', index: 0 };


/**
 * `npm run bench -- throughput`: on loopback, nginx → `curl -o file` against a seed peer → a
 * fresh peer (`d7y get -O file`; the origin's access log proves the bytes came from the seed),
 * same file, same disk; runs interleaved; medians of `runs` and of the per-run ratios, also
 * without the `d7y` CLI's own start-up time. Beside them, the `node-relay` floor
 * (`support/relay-floor.ts`): a Node.js process holding the file sends it to another that writes it,
 * with nothing else: what Node itself reaches for the same transfer; and the same floor with its data
 * path native (RELAY_NATIVE=1: the sender uses sendfile, the receiver reads, hashes and writes in a
 * thread of its own).
 */
export async function run(argv: string[]): Promise<void> {
  const a = parseSizeRuns(argv, 'throughput');
  const teardown = new Teardown();
  try {
    const { workDir, root, sha, bytes } = await benchWorkDir(teardown, 'd7y-bench-tp-', a.sizeMiB);
    const load = loadavg()[0]!;
    const curl: number[] = [];
    const nginx = await startOrigin(teardown, LOOPBACK, root, 28181, join(workDir, 'curl'), '/data.bin');
    const pair = await PeerPair.start(teardown, workDir, root, 'data.bin', 600_000);
    const d7y: number[] = [];
    const d7ySeconds: number[] = [];
    const gib = bytes / 2 ** 30;
    const cpu = { nginx: [] as number[], curl: [] as number[], seed: [] as number[], peer: [] as number[], floorSeed: [] as number[], floorClient: [] as number[],
      nativeFloorSeed: [] as number[], nativeFloorClient: [] as number[] };
    const floorScript = fileURLToPath(new URL('./support/relay-floor.js', import.meta.url));
    const floorSenders: BenchProcess[] = [];
    /** A floor's path: its sender holding the file, and a run that starts a receiver; `env` selects the variant. */
    const floorPath = (name: string, port: number, env: Record<string, string>, speeds: number[], seedCpu: number[], clientCpu: number[]): (i: number) => Promise<void> => {
      const sender = startProcess(teardown, `${name} seed`, process.execPath, [floorScript, 'seed', `127.0.0.1:${port}`,
        pathToFileURL(join(root, 'data.bin')).href, String(bytes), '1', '/dev/null'], { logFile: join(workDir, `${name}-seed.log`), env });
      floorSenders.push(sender);
      return async (i: number): Promise<void> => {
        const out = join(workDir, `${name}-${i}.bin`);
        await recyclePages(workDir, bytes);
        const seed0 = await cpuSeconds([sender.pid]);
        const t0 = performance.now();
        // bash's `times` gives the client's CPU (its start included, as the d7y CLI's is).
        const text = await runCmd('bash', ['-c', '"$@" && times', 'bash', 'env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), process.execPath, floorScript,
          'client', `127.0.0.1:${port + 1}`, '0', `127.0.0.1:${port}`, `127.0.0.1:${port + 1}`, String(bytes), out, `${out}.done`], 600_000);
        const seconds = (performance.now() - t0) / 1000;
        seedCpu.push(((await cpuSeconds([sender.pid])) - seed0) / gib);
        clientCpu.push(bashTimes(text.trim().split('\n').at(-1) ?? '') / gib);
        if (await sha256File(out) !== sha) throw new Error(`the ${name} floor wrote a file whose sha256 differs from the origin's (${out})`);
        speeds.push(bytes / seconds);
        await rm(out, { force: true });
        await rm(`${out}.done`, { force: true });
      };
    };
    const floor: number[] = [];
    const nativeFloor: number[] = [];
    const floorRun = floorPath('node-relay', 28191, {}, floor, cpu.floorSeed, cpu.floorClient);
    const nativeFloorRun = floorPath('node-relay-native', 28193, { RELAY_NATIVE: '1' }, nativeFloor, cpu.nativeFloorSeed, cpu.nativeFloorClient);
    const curlRun = async (i: number): Promise<void> => {
      const out = join(workDir, `curl-${i}.bin`);
      await recyclePages(workDir, bytes);
      const nginx0 = await cpuSeconds([nginx.pid], true);
      const r = await timedCurl(['-o', out, 'http://127.0.0.1:28181/data.bin']);
      cpu.nginx.push(((await cpuSeconds([nginx.pid], true)) - nginx0) / gib);
      curl.push(r.bytesPerSec);
      cpu.curl.push(r.cpuSeconds / gib);
      await rm(out, { force: true });
    };
    const d7yRun = async (i: number): Promise<void> => {
      const peer = await pair.newPeer();
      const out = join(workDir, `d7y-${i}.bin`);
      // After the new daemon's start: the pages it writes into are as backed as the other paths'.
      await recyclePages(workDir, bytes);
      const { result: r, seedCpu, peerCpu } = await pair.fromSeed(peer, bytes, () => pair.fetch(peer, out, 600_000));
      cpu.seed.push(seedCpu / gib);
      cpu.peer.push(peerCpu / gib);
      if (r.code !== 0) throw new Error(`d7y get from the seed peer failed (exit ${r.code}); see ${out}.log and ${peer.logFile}`);
      if (await sha256File(out) !== sha) throw new Error(`d7y get wrote a file whose sha256 differs from the origin's (${out})`);
      d7y.push(bytes / r.seconds);
      d7ySeconds.push(r.seconds);
      await pair.retire(peer);
      await rm(out, { force: true });
    };
    // Interleaved, each run starting with the next path in turn, so that drift in this machine's
    // speed (page cache, neighbours) falls on all alike.
    const order = [curlRun, d7yRun, floorRun, nativeFloorRun];
    for (let i = 0; i < a.runs; i += 1) {
      for (let k = 0; k < order.length; k += 1) await order[(i + k) % order.length]!(i);
    }
    for (const sender of floorSenders) await stopProcess(sender);
    const startup: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      const t0 = performance.now();
      await runCmd(process.execPath, [d7yBin, '--version'], 60_000);
      startup.push((performance.now() - t0) / 1000);
    }
    const cliStart = median(startup);
    const d7yNet = d7ySeconds.map((s) => bytes / Math.max(0.001, s - cliStart));
    const mc = median(curl);
    const md = median(d7y);
    const mb = (x: number): string => (x / 1e6).toFixed(0);
    console.log(formatTable(['path', 'MB/s (median)', 'runs MB/s'], [
      ['nginx → curl -o file', mb(mc), curl.map(mb).join(' ')],
      ['seed peer → peer (d7y get -O file)', mb(md), d7y.map(mb).join(' ')],
      ['  the same without d7y CLI start-up', mb(median(d7yNet)), d7yNet.map(mb).join(' ')],
      ['node-relay floor: node → node', mb(median(floor)), floor.map(mb).join(' ')],
      ['native floor: sendfile → native receiver', mb(median(nativeFloor)), nativeFloor.map(mb).join(' ')],
    ]));
    const cs = (xs: number[]): string => xs.map((x) => x.toFixed(2)).join(' ');
    console.log(formatTable(['process', 'CPU-s per GiB (median)', 'runs'], [
      ['nginx (workers)', median(cpu.nginx).toFixed(2), cs(cpu.nginx)],
      ['curl -o file', median(cpu.curl).toFixed(2), cs(cpu.curl)],
      ['seed peer (serving)', median(cpu.seed).toFixed(2), cs(cpu.seed)],
      ['receiving peer daemon', median(cpu.peer).toFixed(2), cs(cpu.peer)],
      ['node-relay floor: sender', median(cpu.floorSeed).toFixed(2), cs(cpu.floorSeed)],
      ['node-relay floor: receiver (its start included)', median(cpu.floorClient).toFixed(2), cs(cpu.floorClient)],
      ['native floor: sender (sendfile)', median(cpu.nativeFloorSeed).toFixed(2), cs(cpu.nativeFloorSeed)],
      ['native floor: receiver (its start included)', median(cpu.nativeFloorClient).toFixed(2), cs(cpu.nativeFloorClient)],
    ]));
    const digests = digestCost();
    console.log(`${formatDigestCost(digests)}; the receiving peer hashes each byte once with each: `
      + `${digests.content.algorithm} is ${((100 * digests.content.seconds) / median(cpu.peer)).toFixed(0)} % of its CPU per GiB, crc32 ${((100 * digests.crc32) / median(cpu.peer)).toFixed(0)} %`);
    const pairRatio = median(d7y.map((x, i) => x / curl[i]!));
    const floorRatio = median(floor.map((x, i) => x / curl[i]!));
    const nativeFloorRatio = median(nativeFloor.map((x, i) => x / curl[i]!));
    console.log(`ratio d7y / nginx+curl: ${(md / mc).toFixed(2)} (goal ≥ 0.8; median of per-run ratios ${pairRatio.toFixed(2)}); without the ${cliStart.toFixed(2)} s CLI start-up: ${(median(d7yNet) / mc).toFixed(2)}; load average ${load.toFixed(2)}`);
    console.log(`ratio node-relay floor / nginx+curl: ${(median(floor) / mc).toFixed(2)} (median of per-run ratios ${floorRatio.toFixed(2)}); d7y / floor: ${(md / median(floor)).toFixed(2)}`);
    console.log(`ratio native floor / nginx+curl: ${(median(nativeFloor) / mc).toFixed(2)} (median of per-run ratios ${nativeFloorRatio.toFixed(2)}); d7y / native floor: ${(md / median(nativeFloor)).toFixed(2)}`);
    const file = await appendJsonLines(a.out, 'throughput', [{
      bench: 'throughput', at: new Date().toISOString(), sizeMiB: a.sizeMiB, runs: a.runs, loadavg1: Math.round(load * 100) / 100,
      curlBytesPerSec: curl.map(Math.round), d7yBytesPerSec: d7y.map(Math.round), ratio: Math.round((md / mc) * 1000) / 1000,
      pairRatioMedian: Math.round(pairRatio * 1000) / 1000,
      floorBytesPerSec: floor.map(Math.round), floorPairRatioMedian: Math.round(floorRatio * 1000) / 1000,
      nativeFloorBytesPerSec: nativeFloor.map(Math.round), nativeFloorPairRatioMedian: Math.round(nativeFloorRatio * 1000) / 1000,
      cpuSecondsPerGiB: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, v.map((x) => Math.round(x * 100) / 100)])),
      digestCpuSecondsPerGiB: { crc32: digests.crc32, [digests.content.algorithm]: digests.content.seconds, sha256: digests.sha256 },
      cliStartSeconds: Math.round(cliStart * 100) / 100, ratioWithoutCliStart: Math.round((median(d7yNet) / mc) * 1000) / 1000,
    }]);
    console.log(`results: ${file}`);
  } finally {
    await teardown.run();
  }
}
