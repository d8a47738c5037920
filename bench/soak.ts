import { createHash, randomFillSync } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { D7yError } from '../core/index.js';
import { D7yClient } from '../sdk/index.js';
import { appendJsonLines, formatTable, resultsDir, sha256File } from './support/bench-files.js';
import { binNodeFlags, d7yBin, D7yLab, type LabDaemon } from './support/d7y-lab.js';
import type { LabHost } from './support/net-lab.js';
import { startOrigin } from './support/origin-server.js';
import { run as runCmd } from './support/processes.js';
import { median, round } from './support/stats.js';
import { Teardown } from './support/teardown.js';
import { writeSeriesChart } from './support/cdf-chart.js';

const LOOPBACK: LabHost = { name: 'lo', ip: '127.0.0.1', index: 0 };
const KIB = 1024;
const MIB = 1024 * KIB;
/** Object sizes and how often each is drawn: many small ones, few large ones. */
const SIZES: { bytes: number; weight: number }[] = [
  { bytes: KIB, weight: 4 }, { bytes: 4 * KIB, weight: 4 }, { bytes: 64 * KIB, weight: 4 }, { bytes: MIB, weight: 4 },
  { bytes: 4 * MIB, weight: 3 }, { bytes: 16 * MIB, weight: 2 }, { bytes: 64 * MIB, weight: 1 }, { bytes: 256 * MIB, weight: 1 },
];

/** Parsed `soak` arguments. */
export interface SoakArgs {
  minutes: number;
  downloads: number;
  concurrency: number;
  maxSizeMiB: number;
  sampleSeconds: number;
  out?: string;
}

const USAGE = 'run: npm run bench -- soak [--minutes 30] [--downloads 2000] [--concurrency 20] [--max-size 256] [--sample 5] [--out file.jsonl]';

/** Validates `soak` arguments; throws D7yError('D7Y_INVALID_ARGUMENT') naming the bad one. */
export function parseSoakArgs(argv: string[]): SoakArgs {
  let values;
  try {
    values = parseArgs({
      args: argv, strict: true, allowPositionals: false, options: {
        minutes: { type: 'string' }, downloads: { type: 'string' }, concurrency: { type: 'string' }, 'max-size': { type: 'string' },
        sample: { type: 'string' }, out: { type: 'string' },
      },
    }).values;
  } catch (err) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `soak: ${(err as Error).message}`, { fix: USAGE });
  }
  const num = (name: string, text: string | undefined, fallback: number, min: number, max: number): number => {
    const n = text === undefined ? fallback : Number(text);
    if (!Number.isFinite(n) || n < min || n > max) {
      throw new D7yError('D7Y_INVALID_ARGUMENT', `soak: --${name} ${text} must be a number from ${min} to ${max}`, { fix: USAGE });
    }
    return n;
  };
  return {
    minutes: num('minutes', values.minutes, 30, 0.1, 24 * 60),
    downloads: Math.round(num('downloads', values.downloads, 2000, 1, 1e6)),
    concurrency: Math.round(num('concurrency', values.concurrency, 20, 1, 200)),
    maxSizeMiB: num('max-size', values['max-size'], 256, 1, 4096),
    sampleSeconds: num('sample', values.sample, 5, 0.5, 600),
    out: values.out,
  };
}

/** One sample of a daemon: seconds since the start, resident set (bytes) and open file descriptors. */
interface Sample { t: number; rss: number; fds: number }

async function sampleOf(pid: number, t: number): Promise<Sample | undefined> {
  const kb = /VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8').catch(() => ''))?.[1];
  const fds = await readdir(`/proc/${pid}/fd`).then((d) => d.length, () => undefined);
  return kb && fds !== undefined ? { t, rss: Number(kb) * KIB, fds } : undefined;
}

/**
 * Flatness after warm-up (the first fifth of the run): the median of the last tenth of the
 * samples against the median of the first tenth, for RSS and for open descriptors.
 */
export function flatness(samples: Sample[]): { rssRatio: number; fdRatio: number; rssFirst: number; rssLast: number; fdFirst: number; fdLast: number } | undefined {
  if (samples.length < 10) return undefined;
  const after = samples.slice(Math.floor(samples.length / 5));
  const tenth = Math.max(1, Math.floor(after.length / 10));
  const first = after.slice(0, tenth);
  const last = after.slice(-tenth);
  const rssFirst = median(first.map((s) => s.rss));
  const rssLast = median(last.map((s) => s.rss));
  const fdFirst = median(first.map((s) => s.fds));
  const fdLast = median(last.map((s) => s.fds));
  return { rssRatio: rssLast / rssFirst, fdRatio: fdLast / Math.max(1, fdFirst), rssFirst, rssLast, fdFirst, fdLast };
}

/** A sink that hashes what it is given (the SDK's `stream` output). */
function hashingSink(): { stream: Writable; digest: () => string } {
  const hash = createHash('sha256');
  const stream = new Writable({ write(chunk: Buffer, _enc, cb) { hash.update(chunk); cb(); } });
  return { stream, digest: () => hash.digest('hex') };
}

/**
 * `npm run bench -- soak`: one seed peer daemon (the one watched) fetching from the origin and
 * serving a second peer, for at least `minutes` and `downloads` downloads of 1 KiB to 256 MiB,
 * `concurrency` at a time. Each download is a new task (its own URL); the seed gets it through
 * the CLI or the SDK, the second peer through the SDK or its proxy; every sha256 is checked and
 * both copies are deleted after. RSS and open descriptors of both daemons are sampled throughout.
 */
export async function run(argv: string[]): Promise<void> {
  const a = parseSoakArgs(argv);
  const teardown = new Teardown();
  try {
    const workDir = await mkdtemp(join(tmpdir(), 'd7y-bench-soak-'));
    teardown.add('remove work dir', () => rm(workDir, { recursive: true, force: true }));
    const root = join(workDir, 'origin');
    await mkdir(root, { recursive: true });
    const sizes = SIZES.filter((s) => s.bytes <= a.maxSizeMiB * MIB);
    const shas = new Map<number, string>();
    for (const s of sizes) {
      const data = randomFillSync(Buffer.allocUnsafe(Math.min(s.bytes, 16 * MIB)));
      const hash = createHash('sha256');
      const file = join(root, `f${s.bytes}.bin`);
      await writeFile(file, '');
      for (let at = 0; at < s.bytes; at += data.length) {
        const part = data.subarray(0, Math.min(data.length, s.bytes - at));
        hash.update(part);
        await writeFile(file, part, { flag: 'a' });
      }
      shas.set(s.bytes, hash.digest('hex'));
    }
    const originPort = 28480;
    await startOrigin(teardown, LOOPBACK, root, originPort, workDir, `/f${sizes[0]!.bytes}.bin`);
    const d7y = new D7yLab(teardown, join(workDir, 'd7y'));
    await d7y.init();
    const { address } = await d7y.scheduler(LOOPBACK, 28402);
    const seed = await d7y.peer(LOOPBACK, { seed: true, schedulers: [address], uploadBytesPerSec: 1250 * MIB });
    const peer = await d7y.peer({ ...LOOPBACK, name: 'lo2' }, { seed: false, schedulers: [address], uploadBytesPerSec: 1250 * MIB });
    const seedSdk = await D7yClient.connect({ socket: seed.socket });
    const peerSdk = await D7yClient.connect({ socket: peer.socket });
    teardown.add('close SDK clients', async () => { await seedSdk.close(); await peerSdk.close(); });
    const totalWeight = sizes.reduce((s, x) => s + x.weight, 0);
    const pick = (i: number): number => {
      // A fixed sequence (golden-ratio steps over the weights): the same run each time.
      let r = ((i * 0.6180339887) % 1) * totalWeight;
      for (const s of sizes) { r -= s.weight; if (r < 0) return s.bytes; }
      return sizes.at(-1)!.bytes;
    };
    const daemons: [string, LabDaemon][] = [['seed peer', seed], ['peer', peer]];
    const samples = new Map<string, Sample[]>(daemons.map(([name]) => [name, []]));
    const t0 = performance.now();
    const elapsed = (): number => (performance.now() - t0) / 1000;
    const sampler = setInterval(() => {
      for (const [name, d] of daemons) void sampleOf(d.proc.pid, elapsed()).then((s) => { if (s) samples.get(name)!.push(s); });
    }, a.sampleSeconds * 1000);
    teardown.add('stop sampling', () => clearInterval(sampler));
    const counts = { done: 0, failed: 0, bytes: 0, byPath: {} as Record<string, number> };
    const errors: string[] = [];
    let next = 0;
    let lastReport = 0;
    const enough = (): boolean => counts.done + counts.failed >= a.downloads && elapsed() >= a.minutes * 60;
    const one = async (i: number): Promise<void> => {
      const bytes = pick(i);
      const url = `http://127.0.0.1:${originPort}/f${bytes}.bin?soak=${i}`;
      const want = shas.get(bytes)!;
      const seedPath = i % 2 === 0 ? 'seed: d7y get' : 'seed: SDK';
      const peerPath = i % 3 === 0 ? 'peer: proxy' : 'peer: SDK';
      const out = join(workDir, `out-${i}.bin`);
      let taskId: string | undefined;
      try {
        if (seedPath === 'seed: d7y get') {
          const text = await runCmd(process.execPath, [...binNodeFlags(), d7yBin, 'get', url, '-O', out, '--socket', seed.socket, '--no-progress', '--json', '--timeout', '600s'], 620_000);
          taskId = (JSON.parse(text.trim().split('\n').at(-1)!) as { taskId: string }).taskId;
          if (await sha256File(out) !== want) throw new Error(`d7y get of ${url} wrote the wrong bytes`);
          await rm(out, { force: true });
        } else {
          const sink = hashingSink();
          taskId = (await seedSdk.download(url, { stream: sink.stream, timeoutMs: 600_000 })).taskId;
          if (sink.digest() !== want) throw new Error(`the SDK download of ${url} on the seed gave the wrong bytes`);
        }
        if (peerPath === 'peer: proxy') {
          await runCmd('curl', ['-sf', '--max-time', '600', '-x', peer.proxy, '-H', 'X-Dragonfly-Use-P2P: true', '-o', out, url], 620_000);
          if (await sha256File(out) !== want) throw new Error(`the proxy download of ${url} gave the wrong bytes`);
          await rm(out, { force: true });
        } else {
          const sink = hashingSink();
          await peerSdk.download(url, { stream: sink.stream, timeoutMs: 600_000 });
          if (sink.digest() !== want) throw new Error(`the SDK download of ${url} on the peer gave the wrong bytes`);
        }
        counts.done += 1;
        counts.bytes += 2 * bytes;
        for (const p of [seedPath, peerPath]) counts.byPath[p] = (counts.byPath[p] ?? 0) + 1;
      } catch (err) {
        counts.failed += 1;
        if (errors.length < 20) errors.push(`#${i} ${bytes} B: ${(err as Error).message.split('\n')[0]}`);
        await rm(out, { force: true });
      } finally {
        // Both copies go, also after a failure, so that a long run does not fill the disk.
        if (taskId) await Promise.all([peerSdk.delete(taskId), seedSdk.delete(taskId)].map((p) => p.catch(() => undefined)));
      }
      if (elapsed() - lastReport >= 60) {
        lastReport = elapsed();
        const rss = daemons.map(([name]) => `${name} ${((samples.get(name)!.at(-1)?.rss ?? 0) / MIB).toFixed(0)} MiB`).join(', ');
        console.log(`soak: ${Math.round(elapsed())} s, ${counts.done} done, ${counts.failed} failed, ${(counts.bytes / 2 ** 30).toFixed(1)} GiB, RSS ${rss}, load ${loadavg()[0]!.toFixed(1)}`);
      }
    };
    await Promise.all(Array.from({ length: a.concurrency }, async () => {
      while (!enough()) await one(next++);
    }));
    clearInterval(sampler);
    const seconds = elapsed();
    const rows: (string | number)[][] = [];
    const verdicts: Record<string, unknown> = {};
    for (const [name] of daemons) {
      const f = flatness(samples.get(name)!);
      verdicts[name] = f ? { rssRatio: round(f.rssRatio), fdRatio: round(f.fdRatio), rssFirstMiB: round(f.rssFirst / MIB), rssLastMiB: round(f.rssLast / MIB), fdFirst: f.fdFirst, fdLast: f.fdLast } : null;
      rows.push(f
        ? [name, (f.rssFirst / MIB).toFixed(0), (f.rssLast / MIB).toFixed(0), f.rssRatio.toFixed(3), f.fdFirst, f.fdLast, f.fdRatio.toFixed(3), f.rssRatio <= 1.1 && f.fdRatio <= 1.1 ? 'flat' : 'GROWS']
        : [name, '-', '-', '-', '-', '-', '-', 'too few samples']);
    }
    console.log(formatTable(['daemon', 'RSS first tenth MiB', 'RSS last tenth MiB', 'ratio', 'fds first', 'fds last', 'ratio', 'verdict'], rows));
    console.log(`soak: ${counts.done + counts.failed} downloads (${counts.failed} failed) in ${(seconds / 60).toFixed(1)} min, ${(counts.bytes / 2 ** 30).toFixed(1)} GiB through the two daemons; paths: ${Object.entries(counts.byPath).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    for (const e of errors) console.log(`  failed: ${e}`);
    const chart = await writeSeriesChart(join(resultsDir, 'soak-rss'), `RSS of the daemons, ${counts.done + counts.failed} downloads of 1 KiB–${a.maxSizeMiB} MiB, ${a.concurrency} at a time`,
      daemons.flatMap(([name]) => samples.get(name)!.map((s) => ({ series: name, x: s.t / 60, y: s.rss / MIB }))), 'minutes since start', 'RSS (MiB)');
    const file = await appendJsonLines(a.out, 'soak', [{
      bench: 'soak', at: new Date().toISOString(), minutes: round(seconds / 60), downloads: counts.done + counts.failed, failed: counts.failed,
      gib: round(counts.bytes / 2 ** 30), concurrency: a.concurrency, maxSizeMiB: a.maxSizeMiB, loadavg1: round(loadavg()[0]!), flatness: verdicts,
      samples: Object.fromEntries([...samples].map(([k, v]) => [k, v.map((s) => [round(s.t), Math.round(s.rss / MIB), s.fds])])),
    }]);
    console.log(`results: ${file}\nchart: ${chart.join(' ')}`);
  } finally {
    await teardown.run();
  }
}
