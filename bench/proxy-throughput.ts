import { rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { D7yError } from '../core/index.js';
import { appendJsonLines, benchWorkDir, formatTable, sha256File } from './support/bench-files.js';
import type { LabHost } from './support/net-lab.js';
import { startOrigin } from './support/origin-server.js';
import { PeerPair } from './support/peer-pair.js';
import { cpuSeconds } from './support/processes.js';
import { median, round } from './support/stats.js';
import { timedCurl } from './support/timed-curl.js';
import { Teardown } from './support/teardown.js';

const LOOPBACK: LabHost = { name: 'lo', ip: '127.0.0.1', index: 0 };
const USAGE = 'run: npm run bench -- proxy-throughput [--size 1024] [--runs 3] [--out file.jsonl]';

export interface ProxyThroughputArgs {
  sizeMiB: number;
  runs: number;
  out?: string;
}

/** Validates `proxy-throughput` arguments; throws D7yError('D7Y_INVALID_ARGUMENT') naming the bad one. */
export function parseProxyThroughputArgs(argv: string[]): ProxyThroughputArgs {
  try {
    const { values } = parseArgs({ args: argv, strict: true, options: { size: { type: 'string' }, runs: { type: 'string' }, out: { type: 'string' } } });
    const sizeMiB = Number(values.size ?? 1024);
    const runs = Number(values.runs ?? 3);
    if (!Number.isInteger(sizeMiB) || sizeMiB < 1) throw new Error(`--size ${values.size} must be whole MiB`);
    if (!Number.isInteger(runs) || runs < 1 || runs > 20) throw new Error(`--runs ${values.runs} must be a whole number from 1 to 20`);
    return { sizeMiB, runs, out: values.out };
  } catch (err) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `proxy-throughput: ${(err as Error).message}`, { fix: USAGE });
  }
}

/** The paths compared, in the order of the table. */
const PATHS = ['nginx → curl', 'proxy, cold (seed → peer → curl -x)', 'proxy, local hit (peer → curl -x)', 'd7y get (seed → peer → file)'] as const;
type PathName = typeof PATHS[number];

interface PathRuns {
  bytesPerSec: number[];
  /** CPU-seconds per GiB of the serving process: nginx's workers, or the receiving peer daemon. */
  serverCpu: number[];
  /** CPU-seconds per GiB of the seed peer (P2P paths). */
  seedCpu: number[];
  /** CPU-seconds per GiB of the client (curl; the d7y CLI is not counted). */
  clientCpu: number[];
}

/**
 * `npm run bench -- proxy-throughput`: one large file on loopback through the peer's proxy
 * (`curl -x … -o /dev/null`, P2P, from a seed peer into a fresh peer, then again as a local hit),
 * against `d7y get` of the same file from the seed into another fresh peer, and nginx → curl;
 * runs interleaved, the order turning each run.
 */
export async function run(argv: string[]): Promise<void> {
  const a = parseProxyThroughputArgs(argv);
  const teardown = new Teardown();
  try {
    const { workDir, root, sha, bytes } = await benchWorkDir(teardown, 'd7y-bench-ptp-', a.sizeMiB);
    const gib = bytes / 2 ** 30;
    const load = loadavg()[0]!;
    const nginx = await startOrigin(teardown, LOOPBACK, root, 28181, join(workDir, 'curl'), '/data.bin');
    const pair = await PeerPair.start(teardown, workDir, root, 'data.bin', 600_000);
    const runs = Object.fromEntries(PATHS.map((p) => [p, { bytesPerSec: [], serverCpu: [], seedCpu: [], clientCpu: [] }])) as unknown as Record<PathName, PathRuns>;
    const push = (p: PathName, bps: number, server: number, seed: number, client: number): void => {
      runs[p].bytesPerSec.push(bps);
      runs[p].serverCpu.push(server / gib);
      runs[p].seedCpu.push(seed / gib);
      runs[p].clientCpu.push(client / gib);
    };
    const whole = (what: string, r: { status: number; bytes: number }): void => {
      if (r.status !== 200 || r.bytes !== bytes) throw new Error(`${what}: HTTP ${r.status} with ${r.bytes} bytes, not the file's ${bytes}`);
    };
    const nginxRun = async (): Promise<void> => {
      const nginx0 = await cpuSeconds([nginx.pid], true);
      const r = await timedCurl(['-o', '/dev/null', 'http://127.0.0.1:28181/data.bin']);
      whole('nginx → curl', r);
      push('nginx → curl', r.bytesPerSec, (await cpuSeconds([nginx.pid], true)) - nginx0, 0, r.cpuSeconds);
    };
    const proxyRun = async (): Promise<void> => {
      const peer = await pair.newPeer();
      const args = ['-x', `http://${peer.proxy}`, '-H', 'X-Dragonfly-Use-P2P: true', '-o', '/dev/null', pair.url];
      const hit = '%header{x-dragonfly-task-download-finished}';
      for (const p of ['proxy, cold (seed → peer → curl -x)', 'proxy, local hit (peer → curl -x)'] as const) {
        const { result: r, seedCpu, peerCpu } = await pair.fromSeed(peer, bytes, () => timedCurl(args, [hit]));
        whole(p, r);
        if ((r.extra[0] === 'true') !== p.includes('local hit')) throw new Error(`${p}: the proxy answered with X-Dragonfly-Task-Download-Finished "${r.extra[0]}"; see ${peer.logFile}`);
        push(p, r.bytesPerSec, peerCpu, seedCpu, r.cpuSeconds);
      }
      await pair.retire(peer);
    };
    const d7yRun = async (i: number): Promise<void> => {
      const peer = await pair.newPeer();
      const out = join(workDir, `d7y-${i}.bin`);
      const { result: r, seedCpu, peerCpu } = await pair.fromSeed(peer, bytes, () => pair.fetch(peer, out, 600_000));
      if (r.code !== 0) throw new Error(`d7y get from the seed peer failed (exit ${r.code}); see ${out}.log and ${peer.logFile}`);
      if (await sha256File(out) !== sha) throw new Error(`d7y get wrote a file whose sha256 differs from the origin's (${out})`);
      push('d7y get (seed → peer → file)', bytes / r.seconds, peerCpu, seedCpu, 0);
      await pair.retire(peer);
      await rm(out, { force: true });
    };
    const steps = [nginxRun, proxyRun, d7yRun];
    for (let i = 0; i < a.runs; i += 1) {
      for (let k = 0; k < steps.length; k += 1) await steps[(i + k) % steps.length]!(i);
    }
    report(runs, a, load);
    const mid = (p: PathName): number => median(runs[p].bytesPerSec);
    const file = await appendJsonLines(a.out, 'proxy-throughput', [{
      bench: 'proxy-throughput', at: new Date().toISOString(), sizeMiB: a.sizeMiB, runs: a.runs, loadavg1: round(load),
      paths: Object.fromEntries(PATHS.map((p) => [p, {
        bytesPerSec: runs[p].bytesPerSec.map(Math.round), cpuSecondsPerGiB: { server: runs[p].serverCpu.map((x) => round(x)), seed: runs[p].seedCpu.map((x) => round(x)), client: runs[p].clientCpu.map((x) => round(x)) },
      }])),
      ratios: {
        proxyColdOverNginx: round(mid(PATHS[1]) / mid(PATHS[0]), 3), proxyColdOverD7yGet: round(mid(PATHS[1]) / mid(PATHS[3]), 3),
        proxyHitOverNginx: round(mid(PATHS[2]) / mid(PATHS[0]), 3),
      },
    }]);
    console.log(`results: ${file}`);
  } finally {
    await teardown.run();
  }
}

function report(runs: Record<PathName, PathRuns>, a: ProxyThroughputArgs, load: number): void {
  const mb = (x: number): string => (x / 1e6).toFixed(0);
  const cs = (xs: number[]): string => median(xs).toFixed(2);
  console.log(`proxy-throughput: ${a.sizeMiB} MiB, ${a.runs} interleaved runs; load average ${load.toFixed(2)}`);
  console.log(formatTable(['path', 'MB/s (median)', 'runs MB/s', 'server CPU-s/GiB', 'seed CPU-s/GiB', 'curl CPU-s/GiB'], PATHS.map((p) => [
    p, mb(median(runs[p].bytesPerSec)), runs[p].bytesPerSec.map(mb).join(' '), cs(runs[p].serverCpu),
    p === PATHS[0] ? '-' : cs(runs[p].seedCpu), p === PATHS[3] ? '-' : cs(runs[p].clientCpu),
  ])));
  console.log('server = nginx\'s workers, or the receiving peer daemon (whose proxy serves curl); d7y get\'s MB/s include the CLI\'s start-up.');
  const mid = (p: PathName): number => median(runs[p].bytesPerSec);
  console.log(`ratios: proxy cold / nginx ${(mid(PATHS[1]) / mid(PATHS[0])).toFixed(2)}, proxy cold / d7y get ${(mid(PATHS[1]) / mid(PATHS[3])).toFixed(2)}, proxy local hit / nginx ${(mid(PATHS[2]) / mid(PATHS[0])).toFixed(2)}`);
}
