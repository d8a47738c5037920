import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { D7yError } from '../core/errors/d7y-error.js';
import { S3RVER_KEY, startS3rver, type S3rverInstance } from '../test/fakes/s3rver-process.js';
import { appendJsonLines, formatTable, sha256File } from './support/bench-files.js';
import { binNodeFlags, D7yLab, d7yBin } from './support/d7y-lab.js';
import { inHost, NetLab, type LabHost } from './support/net-lab.js';
import { startProcess, stopProcess, type BenchProcess } from './support/processes.js';
import { requireRclone, randomMiB } from './support/rclone.js';
import { Teardown } from './support/teardown.js';

const MIB = 2 ** 20;

interface Args { hosts: number; objects: number; objectMiB: number; rateMbit: number; originRateMbit: number; out?: string }

function parseArgs(argv: string[]): Args {
  const num = (name: string, fallback: number): number => {
    const at = argv.indexOf(name);
    if (at < 0) return fallback;
    const n = Number(argv[at + 1]);
    if (!Number.isInteger(n) || n < 1) {
      throw new D7yError('D7Y_INVALID_ARGUMENT', `${name} ${argv[at + 1]} is not a positive whole number`, {
        fix: 'npm run bench -- sync-hosts [--hosts 8] [--objects 4] [--object-mib 16] [--rate-mbit 200] [--origin-rate-mbit 200] [--out f]',
      });
    }
    return n;
  };
  const outAt = argv.indexOf('--out');
  return {
    hosts: num('--hosts', 8), objects: num('--objects', 4), objectMiB: num('--object-mib', 16),
    rateMbit: num('--rate-mbit', 200), originRateMbit: num('--origin-rate-mbit', 200), out: outAt >= 0 ? argv[outAt + 1] : undefined,
  };
}


/** What one tool did on all hosts at once: bytes the origin's link sent, the slowest host, hosts whose tree is byte-exact. */
interface ToolRun { originBytes?: number; seconds: number; exact: number; failed: string[]; reports: Record<string, number>[] }

/** The `--json` summary a `d7y sync` printed into its log, if any. */
async function syncReport(log: string): Promise<Record<string, number> | undefined> {
  const line = (await readFile(log, 'utf8').catch(() => '')).split('\n').find((l) => l.startsWith('{"src"'));
  return line ? JSON.parse(line) as Record<string, number> : undefined;
}

/**
 * Starts `start(host, out)` on every client host at once and waits for all; then checks every
 * host's copy against the objects' sha256.
 */
async function onAllHosts(lab: NetLab, hosts: LabHost[], work: string, tool: string, shas: Map<string, string>,
  start: (host: LabHost, out: string) => BenchProcess): Promise<ToolRun> {
  const before = await lab.originTxBytes();
  const t0 = performance.now();
  const outs = hosts.map((h) => join(work, tool, h.name));
  for (const o of outs) await mkdir(join(o, '..'), { recursive: true });
  const procs = hosts.map((h, i) => start(h, outs[i]!));
  const codes = await Promise.all(procs.map((p) => p.exited));
  const seconds = (performance.now() - t0) / 1000;
  const after = await lab.originTxBytes();
  let exact = 0;
  const failed: string[] = [];
  const reports: Record<string, number>[] = [];
  for (const [i, out] of outs.entries()) {
    const r = await syncReport(`${out}.log`);
    if (r) reports.push({ fromOrigin: r.fromOrigin!, fromPeers: r.fromPeers!, fromCache: r.fromCache!, bytes: r.bytes! });
    let ok = codes[i] === 0;
    for (const [name, sha] of shas) ok = ok && await sha256File(join(out, name)) === sha;
    if (ok) exact++;
    else failed.push(`${hosts[i]!.name} (exit ${codes[i]}, log ${out}.log)`);
  }
  return { originBytes: before === undefined || after === undefined ? undefined : after - before, seconds, exact, failed, reports };
}

async function seedTree(s3: S3rverInstance, a: Args): Promise<Map<string, string>> {
  const shas = new Map<string, string>();
  for (let i = 0; i < a.objects; i++) {
    const name = `f-${i}.bin`;
    await s3.writeObject('src', `tree/${name}`, Readable.from(randomMiB(a.objectMiB)));
    shas.set(name, (await sha256File(join(s3.directory, 'src', 'tree', `${name}._S3rver_object`)))!);
  }
  return shas;
}

/**
 * `npm run bench -- sync-hosts`: one S3 tree (s3rver alone on the origin host of the netns lab)
 * synced to a local directory on `--hosts` hosts at once, by `d7y sync` through each host's peer
 * daemon (a scheduler and a seed peer on one more host of their own) and by `rclone sync`. The
 * figure is the bytes the origin's link sent over the tree's size: the goal is about 1 for d7y
 * (the seed peer reads the origin, the hosts share pieces), the host count for rclone.
 */
export async function run(argv: string[]): Promise<void> {
  const a = parseArgs(argv);
  const teardown = new Teardown();
  try {
    await requireRclone();
    const work = await mkdtemp(join(tmpdir(), 'd7y-bench-sync-hosts-'));
    teardown.add('remove work dir', () => rm(work, { recursive: true, force: true }));
    const lab = await NetLab.create(teardown, { clients: a.hosts + 1, rateMbit: a.rateMbit, originRateMbit: a.originRateMbit });
    const [clusterHost, ...hosts] = lab.clients as [LabHost, ...LabHost[]];
    if (!lab.shaped) console.log(`sync-hosts: ${lab.fallbackReason}; on loopback the origin's bytes cannot be counted`);
    const s3 = await startS3rver(['src'], { address: lab.origin.ip, wrap: (cmd, args) => inHost(lab.origin, cmd, args) });
    teardown.add('stop s3rver', () => s3.stop());
    const shas = await seedTree(s3, a);
    const treeBytes = a.objects * a.objectMiB * MIB;
    const rateBps = (a.rateMbit * 1e6) / 8;

    const d7y = new D7yLab(teardown, join(work, 'cluster'), {
      plugins: [{ name: 's3', config: { endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, ...S3RVER_KEY } }],
    });
    await d7y.init();
    const { daemon: scheduler, address } = await d7y.scheduler(clusterHost, 28002);
    const seed = await d7y.peer(clusterHost, { seed: true, schedulers: [address], uploadBytesPerSec: rateBps });
    const peers = await Promise.all(hosts.map((h) => d7y.peer(h, { seed: false, schedulers: [address], uploadBytesPerSec: rateBps })));
    const socketOf = new Map(peers.map((p) => [p.host.name, p.socket]));
    const d7yRun = await onAllHosts(lab, hosts, work, 'd7y', shas, (h, out) => {
      const [cmd, args] = inHost(h, process.execPath, [...binNodeFlags(), d7yBin, 'sync', 's3://src/tree/', out, '--socket', socketOf.get(h.name)!,
        '--daemon', '--no-progress', '--json', '--data-dir', `${out}-state`]);
      return startProcess(teardown, `d7y sync on ${h.name}`, cmd, args, { logFile: `${out}.log` });
    });
    for (const d of [...peers, seed, scheduler]) await stopProcess(d.proc);

    const remote = `:s3,provider=Other,endpoint='${s3.endpoint}',access_key_id=${S3RVER_KEY.accessKeyId},secret_access_key=${S3RVER_KEY.accessKeySecret},region=us-east-1,force_path_style=true:`;
    const rcloneRun = await onAllHosts(lab, hosts, work, 'rclone', shas, (h, out) => {
      const [cmd, args] = inHost(h, 'rclone', ['sync', `${remote}src/tree`, out, '--transfers', '8', '--checkers', '8']);
      return startProcess(teardown, `rclone sync on ${h.name}`, cmd, args, { logFile: `${out}.log`, env: { AWS_CA_BUNDLE: undefined } });
    });

    const ratio = (b?: number) => (b === undefined ? 'n/a' : (b / treeBytes).toFixed(2));
    const rows = [['d7y sync', d7yRun], ['rclone sync', rcloneRun]].map(([name, r]) => {
      const t = r as ToolRun;
      return [name as string, `${a.hosts} × ${a.objects} × ${a.objectMiB} MiB`, t.originBytes === undefined ? 'n/a' : (t.originBytes / MIB).toFixed(1), ratio(t.originBytes), t.seconds.toFixed(1), `${t.exact}/${a.hosts}`];
    });
    process.stdout.write(`${formatTable(['tool', 'hosts × tree', 'origin MiB sent', 'origin / tree', 'all hosts done s', 'byte-exact'], rows)}\n`);
    for (const [name, r] of [['d7y', d7yRun], ['rclone', rcloneRun]] as const) if (r.failed.length) process.stdout.write(`${name} failed on: ${r.failed.join(', ')}\n`);
    const share = (k: string) => (d7yRun.reports.reduce((n, r) => n + (r[k] ?? 0), 0) / MIB).toFixed(1);
    process.stdout.write(`d7y sync, as the hosts counted it: ${share('fromOrigin')} MiB back-to-source by client peers, ${share('fromPeers')} MiB from peers (the seed peer included)\n`);
    const base = { hosts: a.hosts, objects: a.objects, objectMiB: a.objectMiB, rateMbit: a.rateMbit, originRateMbit: a.originRateMbit, shaped: lab.shaped, loadavg1: loadavg()[0] };
    const file = await appendJsonLines(a.out, 'sync-hosts', [
      { ...base, tool: 'd7y', ...d7yRun, originOverTree: d7yRun.originBytes === undefined ? null : d7yRun.originBytes / treeBytes },
      { ...base, tool: 'rclone', ...rcloneRun, originOverTree: rcloneRun.originBytes === undefined ? null : rcloneRun.originBytes / treeBytes },
    ]);
    process.stdout.write(`figures appended to ${file}\n`);
  } finally {
    await teardown.run();
  }
}
