import { spawn } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { D7yError } from '../core/index.js';
import { appendJsonLines, formatTable } from './support/bench-files.js';
import { D7yLab, type LabDaemon } from './support/d7y-lab.js';
import type { LabHost } from './support/net-lab.js';
import { median, percentile, round } from './support/stats.js';
import { Teardown } from './support/teardown.js';
import { nowMs, TimingOrigin } from './support/timing-origin.js';

const MIB = 1024 * 1024;
const USAGE = 'run: npm run bench -- proxy-ttfb [--requests 50] [--size 8] [--out file.jsonl] [--keep]';
/** URLs under /p2p/ go through the swarm, the others straight to the origin. */
const RULES = [{ regex: '/p2p/', use: 'p2p' }];

export interface TtfbArgs {
  requests: number;
  sizeMiB: number;
  out?: string;
  keep: boolean;
}

/** Validates `proxy-ttfb` arguments; throws D7yError('D7Y_INVALID_ARGUMENT') naming the bad one. */
export function parseTtfbArgs(argv: string[]): TtfbArgs {
  try {
    const { values } = parseArgs({ args: argv, strict: true, options: {
      requests: { type: 'string' }, size: { type: 'string' }, out: { type: 'string' }, keep: { type: 'boolean' },
    } });
    const requests = Number(values.requests ?? 50);
    const sizeMiB = Number(values.size ?? 8);
    if (!Number.isInteger(requests) || requests < 1 || requests > 1000) throw new Error(`--requests ${values.requests} must be a whole number from 1 to 1000`);
    if (!Number.isInteger(sizeMiB) || sizeMiB < 1 || sizeMiB > 1024) throw new Error(`--size ${values.size} must be whole MiB from 1 to 1024`);
    return { requests, sizeMiB, out: values.out, keep: values.keep ?? false };
  } catch (err) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `proxy-ttfb: ${(err as Error).message}`, { fix: USAGE });
  }
}

/** One request through a proxy: when its first body byte reached the client, and curl's own timings. */
interface ClientFetch {
  /** When the first body byte came out of curl ({@link nowMs}). */
  firstByte: number;
  /** curl's request sent → first byte (`time_starttransfer - time_pretransfer`), ms. */
  ttfbMs: number;
  status: number;
  sha: string;
  bytes: number;
}

/**
 * `curl -N -x proxy url`, its body read from a pipe by this process, so the first byte is seen
 * on the clock the origin records on (curl's spawn is before the request and not counted).
 */
function curlThrough(proxy: string, url: string): Promise<ClientFetch> {
  return new Promise((resolve, reject) => {
    const child = spawn('curl', ['-sS', '-N', '-x', `http://${proxy}`, '-o', '-', '--max-time', '120',
      '-w', '%{stderr}timing %{http_code} %{time_pretransfer} %{time_starttransfer}\n', url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let firstByte: number | undefined;
    let bytes = 0;
    let err = '';
    const hash = createHash('sha256');
    child.stdout.on('data', (d: Buffer) => {
      firstByte ??= nowMs();
      bytes += d.length;
      hash.update(d);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    child.once('error', reject);
    child.once('close', (code) => {
      const m = /timing (\d+) ([\d.]+) ([\d.]+)/.exec(err);
      if (code !== 0 || !m || firstByte === undefined) {
        reject(new Error(`curl -x ${proxy} ${url} failed (exit ${code}): ${err.trim().slice(0, 300)}`));
        return;
      }
      resolve({ firstByte, ttfbMs: (Number(m[3]) - Number(m[2])) * 1000, status: Number(m[1]), sha: hash.digest('hex'), bytes });
    });
  });
}

/** Where one cold request's time went, on one clock, ms (phases the route does not have are absent). */
interface Sample {
  ttfbMs: number;
  /** Client first byte − origin first body byte. */
  gapMs?: number;
  phases: Record<string, number>;
}

/** The phases of a request: from the request's send to the origin's first request, its GET, its first and last byte, and the client's first byte. */
function phasesOf(origin: TimingOrigin, path: string, got: ClientFetch): Sample {
  const reqs = origin.requests.get(path) ?? [];
  if (reqs.length === 0) return { ttfbMs: got.ttfbMs, phases: {} };
  const sent = got.firstByte - got.ttfbMs;
  const firstGet = origin.firstGet(path);
  if (!firstGet) throw new Error(`the origin sent no body for ${path}, yet the client got one`);
  const phases: Record<string, number> = {
    'proxy → origin': reqs[0]!.arrived - sent,
    'stat → GET': firstGet.arrived - reqs[0]!.arrived,
    'origin GET → byte': firstGet.firstByte! - firstGet.arrived,
  };
  if (firstGet.lastByte !== undefined && firstGet.lastByte < got.firstByte) {
    phases['first GET body'] = firstGet.lastByte - firstGet.firstByte!;
    phases['→ client'] = got.firstByte - firstGet.lastByte;
  } else {
    phases['→ client'] = got.firstByte - firstGet.firstByte!;
  }
  return { ttfbMs: got.ttfbMs, gapMs: got.firstByte - firstGet.firstByte!, phases };
}

interface Variant {
  name: string;
  proxy: () => string;
  path: (i: number) => string;
  /** The origin takes no part (a local hit). */
  local?: boolean;
}

/**
 * `npm run bench -- proxy-ttfb`: time to first byte through the peer's proxy, per request of a
 * distinct URL (each a cold task): direct route, P2P on a lone peer (back-to-source), P2P on a
 * peer with a seed peer and a scheduler, and a local hit; rounds interleave the variants.
 */
export async function run(argv: string[]): Promise<void> {
  const a = parseTtfbArgs(argv);
  const teardown = new Teardown();
  try {
    const workDir = await mkdtemp(join(tmpdir(), 'd7y-bench-ttfb-'));
    if (a.keep) console.log(`proxy-ttfb: keeping ${workDir}`);
    else teardown.add('remove work dir', () => rm(workDir, { recursive: true, force: true }));
    const body = randomFillSync(Buffer.allocUnsafe(a.sizeMiB * MIB));
    const sha = createHash('sha256').update(body).digest('hex');
    const origin = await TimingOrigin.start(teardown, body);
    const d7y = new D7yLab(teardown, join(workDir, 'd7y'));
    await d7y.init();
    const lo = (name: string): LabHost => ({ name, ip: '127.0.0.1', index: 0 });
    const proxied = { proxy: { listen: { port: 0 }, rules: RULES } };
    const fast = 1250 * MIB;
    const lone = await d7y.peer(lo('alone'), { seed: false, schedulers: [], uploadBytesPerSec: fast, peer: proxied });
    const { address } = await d7y.scheduler(lo('cluster'), 28302);
    await d7y.peer(lo('cluster'), { seed: true, schedulers: [address], uploadBytesPerSec: fast });
    const peer: LabDaemon = await d7y.peer(lo('cluster'), { seed: false, schedulers: [address], uploadBytesPerSec: fast, peer: proxied });
    const variants: Variant[] = [
      { name: 'direct route', proxy: () => lone.proxy, path: (i) => `/direct/${i}.bin` },
      { name: 'P2P, lone peer (back-to-source)', proxy: () => lone.proxy, path: (i) => `/p2p/alone-${i}.bin` },
      { name: 'P2P, peer + seed + scheduler', proxy: () => peer.proxy, path: (i) => `/p2p/cluster-${i}.bin` },
      { name: 'P2P, local hit', proxy: () => lone.proxy, path: (i) => `/p2p/alone-${i}.bin`, local: true },
    ];
    const samples = new Map<string, Sample[]>(variants.map((v) => [v.name, []]));
    const load = loadavg()[0]!;
    // Round -1 warms the daemons (connections, JIT) and is not counted; the order turns each round.
    for (let i = -1; i < a.requests; i += 1) {
      const cold = variants.filter((v) => !v.local);
      const order = [...cold.slice(((i % cold.length) + cold.length) % cold.length), ...cold.slice(0, ((i % cold.length) + cold.length) % cold.length)];
      for (const v of [...order, ...variants.filter((x) => x.local)]) {
        const path = v.path(i + 1);
        const before = origin.requests.get(path)?.length ?? 0;
        const got = await curlThrough(v.proxy(), origin.url(path));
        await origin.settled();
        if (got.status !== 200 || got.bytes !== body.length || got.sha !== sha) {
          throw new Error(`${v.name}: ${path} came back as ${got.status} with ${got.bytes} bytes (sha ${got.sha.slice(0, 12)}), not the origin's ${body.length}`);
        }
        if (v.local && (origin.requests.get(path)?.length ?? 0) !== before) throw new Error(`${v.name}: ${path} was not a local hit, the origin was asked again`);
        if (i >= 0) samples.get(v.name)!.push(v.local ? { ttfbMs: got.ttfbMs, phases: {} } : phasesOf(origin, path, got));
      }
    }
    report(a, variants, samples, load);
    const records = variants.map((v) => {
      const s = samples.get(v.name)!;
      const gaps = s.map((x) => x.gapMs).filter((g): g is number => g !== undefined);
      return {
        bench: 'proxy-ttfb', at: new Date().toISOString(), sizeMiB: a.sizeMiB, requests: a.requests, variant: v.name, loadavg1: round(load),
        ttfbMs: { p50: round(percentile(s.map((x) => x.ttfbMs), 0.5)), p99: round(percentile(s.map((x) => x.ttfbMs), 0.99)) },
        gapMs: gaps.length ? { p50: round(percentile(gaps, 0.5)), p99: round(percentile(gaps, 0.99)) } : null,
        phaseMediansMs: phaseMedians(s), gaps: gaps.map((g) => round(g, 1)), ttfbs: s.map((x) => round(x.ttfbMs, 1)),
      };
    });
    console.log(`results: ${await appendJsonLines(a.out, 'proxy-ttfb', records)}`);
  } finally {
    await teardown.run();
  }
}

function phaseMedians(s: Sample[]): Record<string, number> {
  const names = [...new Set(s.flatMap((x) => Object.keys(x.phases)))];
  return Object.fromEntries(names.map((n) => [n, round(median(s.map((x) => x.phases[n]).filter((v): v is number => v !== undefined)))]));
}

function report(a: TtfbArgs, variants: Variant[], samples: Map<string, Sample[]>, load: number): void {
  const ms = (x: number): string => x.toFixed(1);
  console.log(`proxy-ttfb: ${a.requests} requests per route, ${a.sizeMiB} MiB each, a distinct URL (a cold task) each; load average ${load.toFixed(2)}`);
  console.log(formatTable(['route', 'TTFB p50 ms', 'TTFB p99 ms', 'client − origin first byte p50', 'p99'], variants.map((v) => {
    const s = samples.get(v.name)!;
    const gaps = s.map((x) => x.gapMs).filter((g): g is number => g !== undefined);
    const t = s.map((x) => x.ttfbMs);
    return [v.name, ms(percentile(t, 0.5)), ms(percentile(t, 0.99)), gaps.length ? ms(percentile(gaps, 0.5)) : '-', gaps.length ? ms(percentile(gaps, 0.99)) : '-'];
  })));
  console.log('TTFB is curl\'s request sent → first byte; the gap is the client\'s first byte − the origin\'s first body byte, on one clock (goal < 50 ms).');
  const names = ['proxy → origin', 'stat → GET', 'origin GET → byte', 'first GET body', '→ client'];
  console.log(formatTable(['route (medians, ms)', ...names], variants.filter((v) => !v.local).map((v) => {
    const p = phaseMedians(samples.get(v.name)!);
    return [v.name, ...names.map((n) => (p[n] === undefined ? '-' : ms(p[n]!)))];
  })));
  const direct = samples.get(variants[0]!.name)!;
  for (const v of variants.slice(1).filter((x) => !x.local)) {
    const s = samples.get(v.name)!;
    const extra = s.map((x, i) => x.ttfbMs - direct[i]!.ttfbMs);
    console.log(`${v.name}: a cold P2P request costs ${ms(median(extra))} ms (median, p99 ${ms(percentile(extra, 0.99))}) more to its first byte than the direct route`);
  }
}
