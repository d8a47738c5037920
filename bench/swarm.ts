import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { D7yError } from '../core/index.js';
import { appendJsonLines, formatTable, resultsDir, sha256File, writeRandomFile } from './support/bench-files.js';
import { digestCost, formatDigestCost } from './support/digest-cost.js';
import { pageCacheWriteCost } from './support/page-cache-cost.js';
import { describeMemoryReclaim, memoryReclaim, reportedKiB } from './support/memory-reclaim.js';
import { writeCdfChart } from './support/cdf-chart.js';
import { LINK_HEADER_BYTES, LINK_MSS, NetLab } from './support/net-lab.js';
import { startOrigin } from './support/origin-server.js';
import { childPids } from './support/processes.js';
import { median, round } from './support/stats.js';
import { Teardown } from './support/teardown.js';
import { runBt, runCacheExport, runCurlProxy, runCurlProxyWarm, runD7y, runD7yApiWarm, runD7yApiWarmJs, runD7yEncrypted, runD7yMutualTls, runD7yWarm, runDirect, runNodeRelay, runNodeRelayNative, type ModeContext, type ModeRun } from './swarm-modes.js';

const MODES: Record<string, (ctx: ModeContext) => Promise<ModeRun>> = {
  direct: runDirect, bt: runBt, d7y: runD7y, 'd7y-warm': runD7yWarm, 'd7y-api-warm': runD7yApiWarm, 'd7y-api-warm-js': runD7yApiWarmJs, 'd7y-mtls': runD7yMutualTls, 'd7y-encrypted': runD7yEncrypted, 'curl-proxy': runCurlProxy, 'curl-proxy-warm': runCurlProxyWarm, 'cache-export': runCacheExport, 'node-relay': runNodeRelay, 'node-relay-native': runNodeRelayNative,
};
const MIB = 1024 * 1024;

/** Parsed `swarm` arguments. */
export interface SwarmArgs {
  hosts: number;
  sizeMiB: number;
  rateMbit: number;
  originRateMbit: number;
  /** Rate from the origin server to the seed peer beside it, Mbit/s; unset: loopback speed. */
  originFetchRateMbit?: number;
  modes: string[];
  out?: string;
  timeoutMs: number;
  /** Keep the work dir (logs, outputs) for a look afterwards. */
  keep: boolean;
  /** MiB of the other file `d7y-warm` downloads on every daemon before the timed phase. */
  warmSizeMiB: number;
}

function positive(name: string, text: string | undefined, fallback?: number): number {
  if (text === undefined && fallback !== undefined) return fallback;
  const n = Number(text);
  if (text === undefined || !Number.isFinite(n) || n <= 0) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `--${name} ${text ?? '(missing)'} is not a positive number`, {
      fix: 'run: npm run bench -- swarm --hosts 4 --size 64 --rate 100 [--origin-rate 100] [--origin-fetch-rate 100] [--modes d7y,d7y-warm,d7y-api-warm,d7y-api-warm-js,d7y-mtls,d7y-encrypted,direct,bt,curl-proxy,curl-proxy-warm,cache-export,node-relay,node-relay-native]',
    });
  }
  return n;
}

/** Validates `swarm` arguments; throws D7yError('D7Y_INVALID_ARGUMENT') naming the bad one. */
export function parseSwarmArgs(argv: string[]): SwarmArgs {
  let values;
  try {
    values = parseArgs({
      args: argv, strict: true, allowPositionals: false, options: {
        hosts: { type: 'string' }, size: { type: 'string' }, rate: { type: 'string' }, 'origin-rate': { type: 'string' }, 'origin-fetch-rate': { type: 'string' },
        modes: { type: 'string' }, out: { type: 'string' }, timeout: { type: 'string' }, keep: { type: 'boolean' },
        'warm-size': { type: 'string' },
      },
    }).values;
  } catch (err) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `swarm: ${(err as Error).message}`, {
      fix: 'run: npm run bench -- swarm --hosts 4 --size 64 --rate 100 [--origin-rate 100] [--origin-fetch-rate 100] [--modes d7y,d7y-warm,d7y-api-warm,d7y-api-warm-js,d7y-mtls,d7y-encrypted,direct,bt,curl-proxy,curl-proxy-warm,cache-export,node-relay,node-relay-native] [--out file.jsonl] [--timeout 600] [--warm-size 16] [--keep]',
    });
  }
  const hosts = positive('hosts', values.hosts);
  if (!Number.isInteger(hosts) || hosts > 200) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `--hosts ${values.hosts} must be a whole number from 1 to 200`, { fix: 'pass e.g. --hosts 8' });
  }
  const rateMbit = positive('rate', values.rate);
  const modes = (values.modes ?? 'd7y,direct,bt').split(',').map((m) => m.trim()).filter(Boolean);
  const unknown = modes.filter((m) => !(m in MODES));
  if (unknown.length > 0 || modes.length === 0) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `unknown mode(s) ${unknown.join(', ') || '(none)'}`, { fix: `choose from ${Object.keys(MODES).join(', ')}` });
  }
  return {
    hosts, sizeMiB: Math.round(positive('size', values.size)), rateMbit,
    originRateMbit: positive('origin-rate', values['origin-rate'], rateMbit), modes, out: values.out,
    originFetchRateMbit: values['origin-fetch-rate'] === undefined ? undefined : positive('origin-fetch-rate', values['origin-fetch-rate']),
    timeoutMs: positive('timeout', values.timeout, 900) * 1000, keep: values.keep ?? false,
    warmSizeMiB: Math.round(positive('warm-size', values['warm-size'], 16)),
  };
}

/** T* = max(S/U_origin, N·S/(U_origin + N·U_peer), S/D_peer, S/F_origin), seconds (F: the origin's fetch rate, when shaped). */
export function lowerBound(sizeBytes: number, hosts: number, originBps: number, peerBps: number, fetchBps = Infinity): number {
  return Math.max(sizeBytes / originBps, (hosts * sizeBytes) / (originBps + hosts * peerBps), sizeBytes / peerBps, sizeBytes / fetchBps);
}

/** `npm run bench -- swarm …`: direct vs BitTorrent vs d7y over a shaped simulated cluster. */
export async function run(argv: string[]): Promise<void> {
  const a = parseSwarmArgs(argv);
  const teardown = new Teardown();
  try {
    const workDir = await mkdtemp(join(tmpdir(), 'd7y-bench-swarm-'));
    if (a.keep) console.log(`swarm: keeping ${workDir}`);
    else teardown.add('remove work dir', () => rm(workDir, { recursive: true, force: true }));
    const size = a.sizeMiB * MIB;
    const lab = await NetLab.create(teardown, { clients: a.hosts, rateMbit: a.rateMbit, originRateMbit: a.originRateMbit, originFetchRateMbit: a.originFetchRateMbit });
    if (!lab.shaped) console.log(`swarm: ${lab.fallbackReason}; running on loopback WITHOUT link shaping (T* below assumes the nominal rates)`);
    const root = join(workDir, 'origin');
    const fileName = 'data.bin';
    const sha = await writeRandomFile(join(root, fileName), a.sizeMiB);
    await writeRandomFile(join(root, 'warm.bin'), a.warmSizeMiB);
    const originPort = 28080;
    const nginx = await startOrigin(teardown, lab.origin, root, originPort, workDir, `/${fileName}`);
    const originPids = [nginx.pid, ...(await childPids([nginx.pid]))];
    const rateBps = (a.rateMbit * 1e6) / 8;
    const originBps = (a.originRateMbit * 1e6) / 8;
    const fetchBps = a.originFetchRateMbit === undefined ? Infinity : (a.originFetchRateMbit * 1e6) / 8;
    const tStar = lowerBound(size, a.hosts, originBps, rateBps, fetchBps);
    const base = {
      bench: 'swarm', at: new Date().toISOString(), hosts: a.hosts, sizeMiB: a.sizeMiB, rateMbit: a.rateMbit,
      originRateMbit: a.originRateMbit, ...(a.originFetchRateMbit !== undefined && { originFetchRateMbit: a.originFetchRateMbit }), warmSizeMiB: a.warmSizeMiB, shaped: lab.shaped, tStar: round(tStar), loadavg1Before: round(loadavg()[0]!),
    };
    const reclaim = memoryReclaim();
    const reclaimNote = describeMemoryReclaim(reclaim);
    if (reclaimNote) console.log(`swarm: ${reclaimNote}`);
    const records: Record<string, unknown>[] = [];
    for (const mode of a.modes) {
      console.log(`swarm: ${mode}: ${a.hosts} hosts, ${a.sizeMiB} MiB, ${a.rateMbit} mbit (origin ${a.originRateMbit} mbit${a.originFetchRateMbit === undefined ? '' : `, fetched by the seed at ${a.originFetchRateMbit} mbit`})…`);
      const load = round(loadavg()[0]!);
      const pageCache = round(pageCacheWriteCost(workDir));
      const ctx: ModeContext = {
        teardown, lab, workDir, root, fileName, url: `http://${lab.origin.ip}:${originPort}/${fileName}`,
        sizeBytes: size, rateBytesPerSec: rateBps, originRateBytesPerSec: originBps, timeoutMs: a.timeoutMs,
        originPids, warmUrl: `http://${lab.origin.ip}:${originPort}/warm.bin`, warmSizeMiB: a.warmSizeMiB,
      };
      const reportedBefore = reportedKiB();
      const r = await MODES[mode]!(ctx);
      const reportedAfter = reportedKiB();
      const shas: (string | undefined)[] = [];
      for (const o of r.outputs) shas.push(await sha256File(o));
      const ok = r.seconds.map((s, i) => s !== undefined && shas[i] === sha);
      const done = r.seconds.filter((s, i): s is number => s !== undefined && ok[i]!);
      const last = done.length === a.hosts ? Math.max(...done) : undefined;
      records.push({
        ...base, mode, loadavg1: load, pageCacheWriteCpuSecondsPerGiB: pageCache, memoryReclaim: reclaim,
        // Memory the machine handed back to its host while the mode ran (set-up and warm-up included).
        reportedToHostMiB: reportedBefore === undefined || reportedAfter === undefined ? null : round((reportedAfter - reportedBefore) / 1024, 0),
        completed: done.length, shaOk: ok.filter(Boolean).length,
        seconds: r.seconds.map((s) => (s === undefined ? null : round(s))), median: done.length ? round(median(done)) : null,
        last: last === undefined ? null : round(last), lastOverTStar: last === undefined ? null : round(last / tStar),
        clientUploadOverSize: r.clientTxBytes.map((b) => (b === undefined ? null : round(b / size, 3))),
        egressBytes: r.egressBytes ?? null, egressOverSize: r.egressBytes === undefined ? null : round(r.egressBytes / size, 3),
        // The same without the packets' Ethernet/IP/TCP headers: what the origin host's programs sent.
        egressPayloadOverSize: r.egressBytes === undefined || r.egressPackets === undefined ? null
          : round((r.egressBytes - r.egressPackets * LINK_HEADER_BYTES) / size, 3),
        // TCP's resends on the origin link (at most one MSS each), which the link's bytes count again.
        egressRetransmitOverSize: r.egressRetransmits === undefined ? null : round((r.egressRetransmits * LINK_MSS) / size, 3),
        cpu: r.cpu ? {
          cores: r.cpu.cores, busy: round(r.cpu.busy), saturated: round(r.cpu.saturated), seconds: roundAll(r.cpu.seconds),
          secondsPerGiB: perGiB(r.cpu.seconds, (done.length * size) / 1024 ** 3),
          systemSeconds: roundAll(r.cpu.systemSeconds),
        } : null,
        memory: r.cpu ? { machinePeakMiB: round(r.cpu.machineMemoryPeakMiB, 0), anonymousPeakMiB: roundAll(r.cpu.anonymousPeakMiB, 0) } : null,
        notes: r.notes,
      });
      if (!a.keep) await rm(join(workDir, mode), { recursive: true, force: true });
    }
    printTable(records, tStar);
    const digests = digestCost();
    // Each receiving peer hashes every byte it gets once with crc32 (the medium) and once with the content digest.
    const hashedGiB = (a.hosts * size) / 1024 ** 3;
    console.log(`${formatDigestCost(digests)}; ${a.hosts} peers receiving ${a.sizeMiB} MiB each hash ${hashedGiB.toFixed(2)} GiB: `
      + `${(digests.content.seconds * hashedGiB).toFixed(2)} CPU-s of ${digests.content.algorithm}, ${(digests.crc32 * hashedGiB).toFixed(2)} of crc32`);
    for (const r of records) r.digestCpuSecondsPerGiB = { crc32: digests.crc32, [digests.content.algorithm]: digests.content.seconds, sha256: digests.sha256 };
    const file = await appendJsonLines(a.out, 'swarm', records);
    const chartBase = join(a.out ? dirname(a.out) : resultsDir, `swarm-${a.hosts}h-${a.sizeMiB}m-${a.rateMbit}mbit`);
    const charts = await writeCdfChart(chartBase, `${a.hosts} hosts, ${a.sizeMiB} MiB, ${a.rateMbit} Mbit/s links${lab.shaped ? '' : ' (loopback, unshaped)'}`,
      records.map((r) => ({ mode: String(r.mode), hosts: a.hosts, seconds: (r.seconds as (number | null)[]).filter((s): s is number => s !== null) })),
      tStar);
    console.log(`results: ${file}\ncharts: ${charts.join(' ')}`);
  } finally {
    await teardown.run();
  }
}

type MemoryRecord = { machinePeakMiB: number; anonymousPeakMiB: Record<string, number> } | null;
type CpuRecord = { cores: number; busy: number; saturated: number; seconds: Record<string, number>; secondsPerGiB: Record<string, number>; systemSeconds?: Record<string, number> } | null;

/** The origin's HTTP server is the same for every mode: it is left out of the distribution's total. */
const ORIGIN_SET = 'origin (nginx)';

/**
 * CPU-seconds per GiB delivered (`gib`: the bytes of the outputs that came out right) of each
 * process set, and `total` over all but the origin server: what distributing the file cost.
 */
function perGiB(seconds: Record<string, number>, gib: number): Record<string, number> {
  if (gib <= 0) return {};
  const total = Object.entries(seconds).reduce((sum, [k, v]) => (k === ORIGIN_SET ? sum : sum + v), 0);
  return roundAll({ ...Object.fromEntries(Object.entries(seconds).map(([k, v]) => [k, v / gib])), total: total / gib });
}

function printTable(records: Record<string, unknown>[], tStar: number): void {
  const f = (v: unknown): string => (v === null || v === undefined ? '-' : String(v));
  const pct = (x: number | undefined): string => (x === undefined ? '-' : `${Math.round(x * 100)}%`);
  console.log(formatTable(['mode', 'done', 'sha ok', 'median s', 'last s', 'T* s', 'last/T*', 'egress/S', 'load', 'CPU busy', 'CPU saturated'],
    records.map((r) => {
      const cpu = r.cpu as CpuRecord;
      return [String(r.mode), `${f(r.completed)}/${f(r.hosts)}`, f(r.shaOk), f(r.median), f(r.last), round(tStar), f(r.lastOverTStar),
        f(r.egressOverSize), f(r.loadavg1), pct(cpu?.busy), pct(cpu?.saturated)];
    })));
  for (const r of records) {
    const ups = (r.clientUploadOverSize as (number | null)[]).map((u, i) => `h${i + 1} ${f(u)}`);
    console.log(`${String(r.mode)} uploads (× file size): origin host ${f(r.egressOverSize)} (${f(r.egressPayloadOverSize)} without packet headers; TCP resent up to ${f(r.egressRetransmitOverSize)}), ${ups.join(', ')}`);
  }
  for (const r of records) {
    const cpu = r.cpu as CpuRecord;
    if (!cpu) continue;
    const parts = Object.entries(cpu.seconds).map(([name, s]) => `${name} ${s.toFixed(2)} (kernel ${(cpu.systemSeconds?.[name] ?? 0).toFixed(2)})`);
    console.log(`${String(r.mode)} CPU-seconds over ${cpu.cores} cores: ${parts.join(', ')}`);
    const per = Object.entries(cpu.secondsPerGiB).map(([name, s]) => `${name} ${s.toFixed(2)}`);
    const handedBack = r.reportedToHostMiB === null || r.reportedToHostMiB === undefined ? '' : `; the machine handed ${f(r.reportedToHostMiB)} MiB back to its host during the mode`;
    console.log(`${String(r.mode)} CPU-seconds per GiB delivered: ${per.join(', ')}; writing new page-cache pages cost ${f(r.pageCacheWriteCpuSecondsPerGiB)} just before${handedBack}`);
    const mem = r.memory as MemoryRecord;
    if (mem) {
      const sets = Object.entries(mem.anonymousPeakMiB).filter(([, mib]) => mib > 0).map(([name, mib]) => `${name} ${mib}`);
      console.log(`${String(r.mode)} memory at its peak, MiB: the machine's in use ${mem.machinePeakMiB}; anonymous ${sets.join(', ')}`);
    }
  }
  const cpuOf = (mode: string): CpuRecord => records.find((r) => r.mode === mode)?.cpu as CpuRecord;
  const bt = cpuOf('bt');
  for (const mode of ['d7y', 'd7y-warm', 'd7y-api-warm', 'd7y-api-warm-js', 'd7y-mtls', 'd7y-encrypted', 'curl-proxy', 'curl-proxy-warm', 'node-relay', 'node-relay-native']) {
    const c = cpuOf(mode);
    if (!bt?.secondsPerGiB.total || !c?.secondsPerGiB.total) continue;
    const [u, k] = userKernelPerGiB(c);
    const [btU, btK] = userKernelPerGiB(bt);
    const split = btU > 0 && btK > 0 ? `; user space ${(u / btU).toFixed(2)}, kernel ${(k / btK).toFixed(2)}` : '';
    console.log(`CPU per GiB delivered, ${mode} / bt (all but the origin server): ${(c.secondsPerGiB.total / bt.secondsPerGiB.total).toFixed(2)}${split}`);
  }
}

/**
 * User and kernel CPU-seconds per GiB delivered of a mode's processes, all but the origin server:
 * `secondsPerGiB.total` split in two.
 */
export function userKernelPerGiB(cpu: NonNullable<CpuRecord>): [number, number] {
  let user = 0;
  let kernel = 0;
  for (const [name, s] of Object.entries(cpu.seconds)) {
    if (name === ORIGIN_SET) continue;
    const k = cpu.systemSeconds?.[name] ?? 0;
    kernel += k;
    user += s - k;
  }
  const perGiB = user + kernel > 0 ? (cpu.secondsPerGiB.total ?? 0) / (user + kernel) : 0;
  return [user * perGiB, kernel * perGiB];
}

function roundAll(xs: Record<string, number>, digits = 2): Record<string, number> {
  return Object.fromEntries(Object.entries(xs).map(([k, v]) => [k, round(v, digits)]));
}
