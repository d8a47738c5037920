import '../core/metadata-polyfill.js';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { Histogram } from 'prom-client';
import { createMetricsRegistry } from '../core/metrics/metrics.js';
import { D7yError, silentLogger } from '../core/index.js';
import { EvaluatorRegistry } from '../core/registry/evaluator-registry.js';
import { NodeConfigSchema } from '../core/config/node-config.js';
import { rootContainer } from '../core/di.js';
import { SchedulingPolicyToken } from '../core/roles/scheduler/scheduling-policy-token.js';
import { Tokens } from '../core/tokens.js';
import { SchedulerRole } from '../core/roles/scheduler/scheduler-role.js';
import { HostType, type Host } from '../core/protocol/rpc/gen/common.js';
import type { AnnouncePeerSession } from '../core/protocol/rpc/announce-peer-session.js';
import { SchedulerClient } from '../core/protocol/rpc/scheduler-client.js';
import { DefaultEvaluator } from '../schedulers/default/default-evaluator.js';

/** One load scenario: `peers` simulated peers spread over `tasks` tasks, `pieces` piece reports each. */
interface Scenario {
  address: string;
  peers: number;
  tasks: number;
  pieces: number;
}

interface LoadResult {
  reports: number;
  registerP50Ms: number;
  registerP99Ms: number;
}

const CHANNELS = 8;
const REGISTER_CONCURRENCY = 32;

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

function host(i: number): Host {
  return {
    id: `bench-host-${i}`, ip: '127.0.0.1', hostname: `bench-${i}`, type: HostType.HOST_TYPE_NORMAL, idc: `idc-${i % 4}`,
    location: `cn|r${i % 3}|z${i % 5}`, uploadPort: 4005, rpcPort: 4000, maxTxBps: 1e8 * (1 + (i % 10)), txBps60s: (i % 7) * 1e7,
    concurrentUploads: i % 5, uploadLimit: 50, uploadSuccessCount: 0, uploadFailedCount: 0, announcedAt: 0,
  };
}

async function bounded<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

const download = (url: string, needBackToSource: boolean) => ({
  url, tag: '', application: '', filteredQueryParams: [], requestHeader: {}, disableBackToSource: false, needBackToSource, options: {},
});

async function answer(s: AnnouncePeerSession): Promise<string> {
  const a = await s.next({ timeoutMs: 30_000 });
  return a?.response?.$case ?? 'closed';
}

/** The simulated peers (runs in a worker thread, so the scheduler keeps its own event loop). */
async function load(sc: Scenario): Promise<void> {
  const clients = Array.from({ length: CHANNELS }, () => new SchedulerClient({ addresses: [sc.address] }));
  const ids = Array.from({ length: sc.peers }, (_, i) => i);
  await bounded(ids, 64, async (i) => { await clients[i % CHANNELS]!.announceHost(host(i)); });
  const taskOf = (i: number): string => (i % sc.tasks).toString(16).padStart(64, '0');
  const sessions: AnnouncePeerSession[] = [];
  const open = (i: number): AnnouncePeerSession =>
    (sessions[i] = clients[i % CHANNELS]!.announcePeer({ hostId: `bench-host-${i}`, taskId: taskOf(i), peerId: `bench-peer-${i}` }));
  const pieceMsg = (n: number, parentId: string) => ({
    number: n, parentId, offset: n * 4194304, length: 4194304, digest: 'crc32:1', trafficType: 1, cost: 5 + (n % 3), createdAt: Date.now(),
  });

  const sources = ids.slice(0, sc.tasks);
  await bounded(sources, 16, async (i) => {
    const s = open(i);
    await s.register(download(`http://bench/${i}`, true));
    await answer(s);
    for (let n = 0; n < sc.pieces; n++) await s.backToSourcePieceFinished({ ...pieceMsg(n, ''), trafficType: 0 });
    await s.backToSourceFinished(sc.pieces * 4194304, sc.pieces);
  });

  const children = ids.slice(sc.tasks);
  const registerMs: number[] = [];
  const parentOf = new Map<number, string>();
  await bounded(children, REGISTER_CONCURRENCY, async (i) => {
    const s = open(i);
    const t0 = performance.now();
    await s.register(download(`http://bench/${i % sc.tasks}`, false));
    const a = await s.next({ timeoutMs: 30_000 });
    registerMs.push(performance.now() - t0);
    const r = a?.response;
    parentOf.set(i, r?.$case === 'normalTaskResponse' ? r.value.candidateParents[0]?.id ?? '' : '');
  });

  parentPort!.postMessage({ phase: 'reporting' });
  await Promise.all(children.map(async (i) => {
    const s = sessions[i]!;
    const parent = parentOf.get(i) ?? '';
    for (let n = 0; n < sc.pieces; n++) {
      await s.pieceFinished(pieceMsg(n, parent));
      if (n === sc.pieces >> 1) await s.reschedule([], 'bench: a round under report load');
    }
  }));
  registerMs.sort((a, b) => a - b);
  parentPort!.postMessage({
    reports: children.length * sc.pieces, registerP50Ms: percentile(registerMs, 0.5), registerP99Ms: percentile(registerMs, 0.99),
  } satisfies LoadResult);
  await new Promise<void>((resolve) => parentPort!.once('message', () => resolve()));
  await Promise.all(children.map((i) => sessions[i]!.finished(sc.pieces * 4194304, sc.pieces).catch(() => undefined)));
  for (const s of sessions) s?.end();
  for (const c of clients) c.close();
}

type LoadMessage = LoadResult | { phase: 'reporting' | 'closed' };

/** Piece reports the scheduler has applied: finished pieces over every peer it knows. */
function finishedPieces(role: SchedulerRole): number {
  let n = 0;
  for (const task of role.resources.tasks.values()) for (const p of task.peers.values()) n += p.finishedPieces.size;
  return n;
}

/** The smallest histogram bucket bound holding at least `q` of the observations, in ms. */
async function histogramQuantileMs(h: Histogram, q: number): Promise<{ boundMs: number; count: number }> {
  const values = (await h.get()).values.filter((v) => v.metricName?.endsWith('_bucket'));
  const total = values.find((v) => v.labels.le === '+Inf')?.value ?? 0;
  for (const v of values) {
    if (v.labels.le !== '+Inf' && v.value >= q * total) return { boundMs: Number(v.labels.le) * 1000, count: total };
  }
  return { boundMs: Infinity, count: total };
}

async function scenario(peers: number, tasks: number, pieces: number): Promise<Record<string, string>> {
  const container = rootContainer.createChildContainer();
  const config = NodeConfigSchema.parse({ scheduler: { listen: { host: '127.0.0.1', port: 0 } } });
  const evaluators = new EvaluatorRegistry();
  evaluators.add(new DefaultEvaluator(), 'bench');
  const registry = createMetricsRegistry();
  container.register(Tokens.Config, { useValue: config });
  container.register(Tokens.Logger, { useValue: silentLogger() });
  container.register(Tokens.Metrics, { useValue: registry });
  container.register(Tokens.EvaluatorRegistry, { useValue: evaluators });
  container.register(SchedulingPolicyToken, { useValue: { evaluator: 'default' } });
  const role = container.resolve(SchedulerRole);
  await role.start();
  try {
    const sc: Scenario = { address: `127.0.0.1:${role.port}`, peers, tasks, pieces };
    const worker = new Worker(new URL(import.meta.url), { workerData: sc });
    const failed = new Promise<never>((_, reject) => {
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new D7yError('D7Y_INTERNAL', `load worker exited with ${code} before reporting`)));
    });
    failed.catch(() => undefined);
    const messages: LoadMessage[] = [];
    let wake: (() => void) | undefined;
    worker.on('message', (m: LoadMessage) => { messages.push(m); wake?.(); });
    const next = async (): Promise<LoadMessage> => {
      while (messages.length === 0) await Promise.race([new Promise<void>((r) => { wake = r; }), failed]);
      return messages.shift()!;
    };
    await next();
    const t0 = performance.now();
    const expected = peers * pieces;
    const deadline = Date.now() + 120_000;
    while (finishedPieces(role) < expected) {
      if (Date.now() > deadline) throw new D7yError('D7Y_TIMEOUT', `the scheduler processed ${finishedPieces(role)} of ${expected} piece reports in 120 s`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const reportMs = performance.now() - t0;
    const result = (await next()) as LoadResult;
    worker.postMessage('finish');
    await next().catch(() => undefined);
    await worker.terminate();
    const rounds = registry.getSingleMetric('d7y_scheduler_round_duration_seconds') as Histogram;
    const p99 = await histogramQuantileMs(rounds, 0.99);
    const p50 = await histogramQuantileMs(rounds, 0.5);
    const perSec = result.reports / (reportMs / 1000);
    return {
      scenario: `${peers} peers / ${tasks} task${tasks > 1 ? 's' : ''}`,
      'piece reports': String(result.reports),
      'reports/s': perSec.toFixed(0),
      'rounds': String(p99.count),
      'round p50 (ms, ≤)': String(p50.boundMs),
      'round p99 (ms, ≤)': String(p99.boundMs),
      'register→parents p50/p99 (ms)': `${result.registerP50Ms.toFixed(1)} / ${result.registerP99Ms.toFixed(1)}`,
      goal: perSec >= 5000 && p99.boundMs <= 5 ? 'met' : 'missed',
    };
  } finally {
    await role.stop();
  }
}

function table(rows: Record<string, string>[]): string {
  const cols = Object.keys(rows[0]!);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(width[i]!)).join('  ');
  return [line(cols), line(width.map((w) => '-'.repeat(w))), ...rows.map((r) => line(cols.map((c) => r[c]!)))].join('\n');
}

/**
 * `npm run bench -- scheduler-load [--peers 1000] [--pieces 20]`: a real SchedulerRole on loopback
 * gRPC, driven by simulated peers in a worker thread — first 1,000 peers on one task, then on 100
 * tasks. Prints piece reports per second (all children report their pieces at once; timed until
 * the scheduler has applied every report; each child also asks for one reschedule halfway, so
 * rounds run under the report load), scheduling-round latency from the
 * scheduler's own histogram (p50/p99 as bucket bounds), and client-observed register→parents
 * latency with 32 registrations in flight. Goal: ≥ 5,000 reports/s and p99 < 5 ms.
 */
export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { peers: { type: 'string', default: '1000' }, pieces: { type: 'string', default: '20' } } });
  const peers = Number(values.peers);
  const pieces = Number(values.pieces);
  if (!Number.isInteger(peers) || peers < 200 || !Number.isInteger(pieces) || pieces < 1) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `--peers must be an integer ≥ 200 and --pieces ≥ 1 (got ${values.peers}, ${values.pieces})`,
      { fix: 'run npm run bench -- scheduler-load --peers 1000 --pieces 20' });
  }
  const rows = [await scenario(peers, 1, pieces), await scenario(peers, 100, pieces)];
  process.stdout.write(`scheduler under load (goal: ≥ 5,000 reports/s, round p99 < 5 ms)\n${table(rows)}\n`);
}

if (!isMainThread && parentPort && (workerData as Scenario | undefined)?.address) {
  const port = parentPort;
  const sc = workerData as Scenario;
  load(sc).then(() => port.postMessage({ phase: 'closed' }), (err: unknown) => { throw err; });
}
