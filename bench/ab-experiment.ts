import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { D7yError } from '../core/index.js';
import { experimentReport, formatExperimentReport, JsonLinesOutcomeStore } from '../core/roles/scheduler/experiment/index.js';
import { LocalApiClient } from '../core/protocol/local-api/local-api-client.js';
import { d7yBin } from './support/d7y-lab.js';
import { startProcess, waitUntil } from './support/processes.js';
import { Teardown } from './support/teardown.js';

const MIB = 1024 * 1024;
const EXPERIMENT = 'ab-bench';

/** Upload rate limits (bytes/s) of the swarm's normal peers: three fast hosts, three slow ones. */
const PEER_UPLOAD = [96 * MIB, 96 * MIB, 96 * MIB, 8 * MIB, 8 * MIB, 8 * MIB];
/** Parents per scheduling round: fewer than the peers, so the ranking decides who serves whom. */
const CANDIDATE_PARENTS = 2;

/** A loopback origin serving `files` from memory with single-range support. */
async function startOrigin(teardown: Teardown, files: Map<string, Buffer>): Promise<string> {
  const server: Server = createServer((req, res) => {
    const body = files.get(req.url ?? '');
    if (!body) return void res.writeHead(404).end();
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    const end = m && m[2] ? Math.min(Number(m[2]), body.length - 1) : body.length - 1;
    res.writeHead(m ? 206 : 200, {
      'content-length': end - start + 1, 'accept-ranges': 'bytes', etag: `"${body.length}"`,
      ...(m ? { 'content-range': `bytes ${start}-${end}/${body.length}` } : {}),
    });
    res.end(req.method === 'HEAD' ? undefined : body.subarray(start, end + 1));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  teardown.add('stop origin', () => new Promise<void>((resolve) => server.close(() => resolve())));
  const addr = server.address();
  return `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
}

/** A port free on 127.0.0.1 right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createTcpServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

async function daemon(teardown: Teardown, dir: string, role: 'scheduler' | 'peer', name: string, config: object): Promise<void> {
  const configFile = join(dir, `${name}.json`);
  const logFile = join(dir, `${name}.log`);
  await writeFile(configFile, JSON.stringify(config, null, 2));
  const proc = startProcess(teardown, name, process.execPath, [d7yBin, role, '--config', configFile], { logFile });
  await waitUntil(`${name} ready`, async () => {
    if (proc.child.exitCode !== null) throw new Error(`${name} exited early; see ${logFile}`);
    return /d7y: ready/.test(await readFile(logFile, 'utf8').catch(() => ''));
  }, 60_000);
}

function peerConfig(dir: string, pluginsFile: string, name: string, scheduler: string, seed: boolean, uploadBps: number): object {
  const dataDir = join(dir, name);
  return {
    dataDir, pluginsFile, log: { level: 'warn' },
    peer: {
      seed, dataDir, socket: join(dataDir, 'peer.sock'), host: { ip: '127.0.0.1', hostname: name },
      upload: { port: 0, rateLimit: uploadBps, maxBandwidth: uploadBps }, rpc: { port: 0 }, pieceHttp: { port: 0 }, proxy: { listen: { port: 0 } }, metrics: { listen: { port: 0 } },
      schedulers: [scheduler], announceIntervalMs: 2_000,
      download: { pieceLengthMin: MIB, directMaxBytes: MIB, stallMs: 2_000 },
    },
  };
}

/**
 * `npm run bench -- ab-experiment [--tasks 24] [--size-mib 16] [--keep]`: a loopback swarm (one
 * scheduler giving 2 parents per round, a seed peer and six peers, three with fast and three with
 * slow uploads) runs an A/B
 * experiment — arm `control` ranks parents with `default`, arm `treatment` with `throughput`,
 * 50/50 by task id. Every task is downloaded by the six peers at once; the scheduler records one
 * outcome per download; the report (`d7y experiment report`) is printed at the end.
 */
export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: {
    tasks: { type: 'string', default: '24' }, 'size-mib': { type: 'string', default: '16' }, keep: { type: 'boolean', default: false },
  } });
  const tasks = Number(values.tasks);
  const sizeMiB = Number(values['size-mib']);
  if (!Number.isInteger(tasks) || tasks < 2 || !Number.isInteger(sizeMiB) || sizeMiB < 2) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `--tasks must be an integer ≥ 2 and --size-mib ≥ 2 (got ${values.tasks}, ${values['size-mib']})`,
      { fix: 'run npm run bench -- ab-experiment --tasks 24 --size-mib 16' });
  }
  const teardown = new Teardown();
  const dir = await mkdtemp(join(tmpdir(), 'd7y-ab-'));
  if (!values.keep) teardown.add('remove work dir', () => rm(dir, { recursive: true, force: true }));
  try {
    const files = new Map<string, Buffer>();
    for (let i = 0; i < tasks; i++) files.set(`/ab/file-${i}.bin`, randomBytes(sizeMiB * MIB));
    const origin = await startOrigin(teardown, files);
    const pluginsFile = join(dir, 'plugins.json');
    await writeFile(pluginsFile, JSON.stringify({
      plugins: [{ name: 'http' }, { name: 'disk' }, { name: 'default' }, { name: 'throughput' }],
      scheduler: { evaluator: 'default', experiment: { id: EXPERIMENT, bucketBy: 'task', variants: [
        { name: 'control', evaluator: 'default', weight: 50 }, { name: 'treatment', evaluator: 'throughput', weight: 50 },
      ] } },
    }));
    const schedulerDir = join(dir, 'scheduler');
    await mkdir(schedulerDir, { recursive: true });
    const port = await freePort();
    const scheduler = `127.0.0.1:${port}`;
    await daemon(teardown, dir, 'scheduler', 'scheduler', {
      dataDir: schedulerDir, pluginsFile, log: { level: 'warn' }, scheduler: { listen: { host: '127.0.0.1', port }, metrics: { listen: { port: 0 } }, candidateParentLimit: CANDIDATE_PARENTS },
    });
    const names = PEER_UPLOAD.map((_, i) => `peer-${i}`);
    await Promise.all([
      daemon(teardown, dir, 'peer', 'seed', peerConfig(dir, pluginsFile, 'seed', scheduler, true, 128 * MIB)),
      ...names.map((n, i) => daemon(teardown, dir, 'peer', n, peerConfig(dir, pluginsFile, n, scheduler, false, PEER_UPLOAD[i]!))),
    ]);
    const clients = names.map((n) => new LocalApiClient(join(dir, n, 'peer.sock')));
    teardown.add('close clients', async () => { for (const c of clients) await c.close(); });
    process.stderr.write(`ab-experiment: ${tasks} tasks × ${clients.length} peers, ${sizeMiB} MiB each\n`);
    for (let i = 0; i < tasks; i++) {
      const url = `${origin}/ab/file-${i}.bin`;
      await Promise.all(clients.map((c) => c.download({ url })));
    }
    const store = new JsonLinesOutcomeStore(schedulerDir);
    await waitUntil('every outcome recorded', async () =>
      (await store.list(EXPERIMENT).catch(() => [])).length >= tasks * clients.length, 10_000).catch(() => undefined);
    const report = experimentReport(EXPERIMENT, await store.list(EXPERIMENT));
    process.stdout.write(formatExperimentReport(report));
    if (values.keep) process.stdout.write(`work dir kept: ${dir} (d7y experiment report ${EXPERIMENT} --data-dir ${schedulerDir})\n`);
  } finally {
    await teardown.run();
  }
}
