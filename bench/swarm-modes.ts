import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalApiClient } from '../core/protocol/local-api/local-api-client.js';
import { initClusterCa, issueNodeCertificate } from '../core/protocol/tls/cluster-certificates.js';
import { D7yLab, daemonCounter, type D7yLabOptions, type LabDaemon } from './support/d7y-lab.js';
import { inHost, type LabHost, type NetLab } from './support/net-lab.js';
import { CpuSampler, type CpuReport, type ProcessSets } from './support/cpu-sampler.js';
import { run, startProcess, stopProcess, type BenchProcess } from './support/processes.js';
import type { Teardown } from './support/teardown.js';

/** What one mode of the swarm benchmark needs. */
export interface ModeContext {
  teardown: Teardown;
  lab: NetLab;
  workDir: string;
  /** The file on the origin: its folder, name and URL on the origin's HTTP server. */
  root: string;
  fileName: string;
  url: string;
  sizeBytes: number;
  rateBytesPerSec: number;
  originRateBytesPerSec: number;
  timeoutMs: number;
  /** The origin's HTTP server processes (nginx and its workers). */
  originPids: number[];
  /** Another file on the origin (`--warm-size` MiB, default 16) that `d7y-warm` downloads on every daemon before the timed phase. */
  warmUrl: string;
  warmSizeMiB: number;
}

/** Per-host results of one mode: completion seconds (undefined = failed) and the output paths. */
export interface ModeRun {
  seconds: (number | undefined)[];
  outputs: string[];
  /** Origin link bytes sent during the timed phase. */
  egressBytes?: number;
  /** Packets the origin link sent during the timed phase (each carries LINK_HEADER_BYTES of headers within egressBytes). */
  egressPackets?: number;
  /** TCP segments the origin host retransmitted during the timed phase (resent bytes the link counts twice). */
  egressRetransmits?: number;
  /** Bytes each client's link sent during the timed phase (its uploads to other clients). */
  clientTxBytes: (number | undefined)[];
  /** Where the CPU went during the timed phase. */
  cpu?: CpuReport;
  notes: string[];
}

/**
 * Starts one process per client at once; resolves with each one's completion time (undefined on
 * failure), the link counters, and the CPU time of the clients (named `clients`) and of `others`.
 */
async function timed(ctx: ModeContext, clients: string, starts: (() => BenchProcess)[], others: ProcessSets,
  finished?: (i: number) => Promise<number | undefined>): Promise<Omit<ModeRun, 'outputs' | 'notes'>> {
  const tx0 = await ctx.lab.txCounters(ctx.lab.origin);
  const re0 = await ctx.lab.retransmittedSegments(ctx.lab.origin);
  const up0 = await Promise.all(ctx.lab.clients.map((h) => ctx.lab.txBytes(h)));
  const procs: BenchProcess[] = [];
  const sampler = new CpuSampler({ [clients]: () => procs.map((p) => p.pid).filter((pid) => pid > 0), ...others, 'origin (nginx)': () => ctx.originPids });
  await sampler.start();
  const t0 = performance.now();
  const wall0 = Date.now();
  const deadline = setTimeout(() => { for (const p of procs) void stopProcess(p); }, ctx.timeoutMs);
  let seconds: (number | undefined)[];
  let cpu: CpuReport;
  try {
    procs.push(...starts.map((s) => s()));
    seconds = await Promise.all(procs.map(async (p, i) => {
      const code = await p.exited;
      if (finished) {
        const at = await finished(i);
        return at === undefined ? undefined : (at - wall0) / 1000;
      }
      return code === 0 ? (performance.now() - t0) / 1000 : undefined;
    }));
  } finally {
    clearTimeout(deadline);
    // Stopped on every path: a sampler left running would keep the benchmark from exiting.
    cpu = await sampler.stop();
  }
  const tx1 = await ctx.lab.txCounters(ctx.lab.origin);
  const re1 = await ctx.lab.retransmittedSegments(ctx.lab.origin);
  const up1 = await Promise.all(ctx.lab.clients.map((h) => ctx.lab.txBytes(h)));
  return {
    seconds, egressBytes: tx0 === undefined || tx1 === undefined ? undefined : tx1.bytes - tx0.bytes,
    egressPackets: tx0 === undefined || tx1 === undefined ? undefined : tx1.packets - tx0.packets,
    egressRetransmits: re0 === undefined || re1 === undefined ? undefined : re1 - re0,
    clientTxBytes: up1.map((b, i) => (b === undefined || up0[i] === undefined ? undefined : b - up0[i]!)), cpu,
  };
}

/** All clients fetch the file from the origin's HTTP server at once with curl. */
export async function runDirect(ctx: ModeContext): Promise<ModeRun> {
  const dir = join(ctx.workDir, 'direct');
  await mkdir(dir, { recursive: true });
  const outputs = ctx.lab.clients.map((h) => join(dir, `${h.name}.bin`));
  const r = await timed(ctx, 'curl', ctx.lab.clients.map((h, i) => () => {
    const [cmd, args] = inHost(h, 'curl', ['-sf', '--max-time', String(Math.ceil(ctx.timeoutMs / 1000)), '-o', outputs[i]!, ctx.url]);
    return startProcess(ctx.teardown, `curl on ${h.name}`, cmd, args);
  }), {});
  return { ...r, outputs, notes: [] };
}

/**
 * A scheduler and a seed peer on the origin host (a normal peer with `origin: 'peer'`, after which
 * `prepare` runs untimed), a peer daemon on every client (with `peer`'s config added), then `start`
 * on all clients at once, each writing the file to its output. Daemons are stopped and their data
 * removed afterwards. `lab`: what every daemon shares (TLS).
 */
async function onD7yCluster(ctx: ModeContext, mode: string, clients: string, peer: (h: LabHost) => Record<string, unknown> | undefined,
  start: (d7y: D7yLab, daemon: LabDaemon, output: string) => BenchProcess,
  opts: { origin?: 'seed' | 'peer'; seedPeer?: Record<string, unknown>; prepare?: (d7y: D7yLab, origin: LabDaemon, peers: LabDaemon[]) => Promise<string[]>;
    lab?: D7yLabOptions; } = {}): Promise<ModeRun> {
  const dir = join(ctx.workDir, mode);
  const d7y = new D7yLab(ctx.teardown, dir, opts.lab);
  await d7y.init();
  const { daemon: scheduler, address } = await d7y.scheduler(ctx.lab.origin, 28002);
  const originKind = opts.origin ?? 'seed';
  const seed = await d7y.peer(ctx.lab.origin, { seed: originKind === 'seed', schedulers: [address], uploadBytesPerSec: ctx.originRateBytesPerSec,
    peer: originKind === 'peer' ? peer(ctx.lab.origin) : opts.seedPeer });
  const peers = await Promise.all(ctx.lab.clients.map((h) => d7y.peer(h, { seed: false, schedulers: [address], uploadBytesPerSec: ctx.rateBytesPerSec, peer: peer(h) })));
  const notes = (await opts.prepare?.(d7y, seed, peers)) ?? [];
  const outputs = ctx.lab.clients.map((h) => join(dir, `${h.name}.out`));
  const seedSent = (): Promise<[number | undefined, number | undefined]> => Promise.all([
    daemonCounter(seed, 'd7y_peer_upload_bytes_total'), daemonCounter(seed, 'd7y_peer_upload_pieces_total', 'result="succeeded"')]);
  const sent0 = await seedSent();
  const r = await timed(ctx, clients, peers.map((p, i) => () => start(d7y, p, outputs[i]!)), {
    'peer daemons': () => peers.map((p) => p.proc.pid), [originKind === 'seed' ? 'seed peer' : 'origin peer']: () => [seed.proc.pid], scheduler: () => [scheduler.proc.pid],
  });
  const sent1 = await seedSent();
  for (const d of [...peers, seed, scheduler]) await stopProcess(d.proc);
  if (sent0[0] !== undefined && sent1[0] !== undefined) {
    const pieces = sent0[1] !== undefined && sent1[1] !== undefined ? `, ${sent1[1] - sent0[1]} whole pieces` : '';
    notes.push(`${originKind === 'seed' ? 'seed' : 'origin peer'} sent ${((sent1[0] - sent0[0]) / ctx.sizeBytes).toFixed(3)} × the file's bytes to peers${pieces}`);
  }
  return { ...r, outputs, notes: [...notes, `logs in ${dir}`] };
}

/**
 * The persistent cache: a normal peer on the origin host imports the file (`d7y cache import
 * --replicas 1`, untimed: it is then the one holder, uploading at the origin's rate), and every
 * client runs `d7y cache export <id>` at once. No origin server takes part; the origin link's
 * bytes are the holder's uploads, each client link's its uploads to the other exporters.
 */
export function runCacheExport(ctx: ModeContext): Promise<ModeRun> {
  let id = '';
  const cache = { persistentCache: { announceInterval: '1s' } };
  return onD7yCluster(ctx, 'cache-export', 'd7y cache export', () => cache, (d7y, p, out) => d7y.cacheExport(p, id, out, ctx.timeoutMs), {
    origin: 'peer',
    prepare: async (d7y, holder) => {
      const t0 = performance.now();
      id = (await d7y.cacheImport(holder, join(ctx.root, ctx.fileName))).trim();
      return [`imported on the origin host in ${((performance.now() - t0) / 1000).toFixed(1)} s (untimed), task ${id.slice(0, 12)}…`];
    },
  });
}

/** The d7y cluster, and `d7y get` on all clients at once (timed from the CLI's start, so its start-up counts). */
export function runD7y(ctx: ModeContext): Promise<ModeRun> {
  return onD7yCluster(ctx, 'd7y', 'd7y get', () => undefined, (d7y, p, out) => d7y.get(p, ctx.url, out, ctx.timeoutMs));
}

/**
 * The same, with warm daemons: before the timed phase every peer (the seed first) downloads
 * another file through the swarm, so that the code a download runs is compiled, as on a host whose
 * daemon has been up for a while; then `d7y get` of the file on all clients at once.
 */
export function runD7yWarm(ctx: ModeContext): Promise<ModeRun> {
  return onD7yCluster(ctx, 'd7y-warm', 'd7y get', () => undefined, (d7y, p, out) => d7y.get(p, ctx.url, out, ctx.timeoutMs), { prepare: warmUp(ctx, 'd7y-warm') });
}

/**
 * Warm daemons as in `d7y-warm`, and on all clients at once `curl --unix-socket` posting the
 * download to the daemon's local API (what `d7y get` sends), the daemon writing the output file:
 * the same work for the daemons with no node process started per download.
 */
export function runD7yApiWarm(ctx: ModeContext, mode = 'd7y-api-warm', peer?: Record<string, unknown>): Promise<ModeRun> {
  return onD7yCluster(ctx, mode, 'curl to the local API', () => peer, (_d7y, p, out) => {
    const [cmd, args] = inHost(p.host, 'curl', ['-sf', '--max-time', String(Math.ceil(ctx.timeoutMs / 1000)), '--unix-socket', p.socket,
      '-H', 'content-type: application/json', '--data', JSON.stringify({ url: ctx.url, output: out }), '-o', `${out}.events`, 'http://d7y/v1/tasks/download']);
    return startProcess(ctx.teardown, `curl to the local API on ${p.host.name}`, cmd, args, { logFile: `${out}.log` });
  }, { prepare: warmUp(ctx, mode), seedPeer: peer });
}

/**
 * `d7y-api-warm` with every byte passing through JavaScript (`upload.sendfile` and
 * `download.nativeReads` off), to compare with the native addon's data path.
 */
export function runD7yApiWarmJs(ctx: ModeContext): Promise<ModeRun> {
  return runD7yApiWarm(ctx, 'd7y-api-warm-js', { upload: { sendfile: false }, download: { nativeReads: false } });
}

/**
 * A `prepare` that has every daemon download the warm-up file, so that the code a download runs is
 * compiled before the timed phase: the seed first, then the peers at once, each with `d7y get`, or
 * the peers with `client` where given (the seed serves no proxy).
 */
function warmUp(ctx: ModeContext, mode: string, client?: (daemon: LabDaemon, out: string, url: string) => BenchProcess) {
  return async (d7y: D7yLab, seed: LabDaemon, peers: LabDaemon[]): Promise<string[]> => {
    const t0 = performance.now();
    const warm = async (daemon: LabDaemon, i: number): Promise<void> => {
      const out = join(ctx.workDir, mode, `warm-${i}.bin`);
      const code = await (daemon !== seed && client ? client(daemon, out, ctx.warmUrl) : d7y.get(daemon, ctx.warmUrl, out, ctx.timeoutMs)).exited;
      if (code !== 0) throw new Error(`the warm-up download on ${daemon.host.name} failed (exit ${code}); see ${out}.log`);
      await rm(out, { force: true });
    };
    await warm(seed, 0);
    await Promise.all(peers.map((p, i) => warm(p, i + 1)));
    const dropped = process.env.D7Y_BENCH_KEEP_WARM_TASKS ? 0 : await forgetTasks([seed, ...peers]);
    return [`daemons warmed by a ${ctx.warmSizeMiB} MiB download each in ${((performance.now() - t0) / 1000).toFixed(1)} s (untimed)`
      + `${dropped ? `, then ${dropped} warm-up tasks deleted` : ''}`];
  };
}

/**
 * Deletes every task the daemons hold (`DELETE /v1/tasks/<id>`, what `d7y task rm` sends), so that
 * after a warm-up what stays warm is the daemons' code and not a copy of the warm-up file per host
 * in the page cache, which aria2c's processes, started fresh, do not have. Resolves with the count.
 */
async function forgetTasks(daemons: LabDaemon[]): Promise<number> {
  const counts = await Promise.all(daemons.map(async (d) => {
    const api = new LocalApiClient(d.socket);
    try {
      const tasks = await api.list();
      for (const t of tasks) await api.delete(String(t.taskId));
      return tasks.length;
    } finally {
      await api.close();
    }
  }));
  return counts.reduce((a, b) => a + b, 0);
}

/**
 * `d7y` with `security.tls.mode: mutual` on every daemon: gRPC, Vortex and piece HTTP over TLS,
 * each side presenting a certificate of one CA (made as `d7y cert` does; one certificate naming
 * every lab address, shared by all hosts).
 */
export async function runD7yMutualTls(ctx: ModeContext): Promise<ModeRun> {
  const pki = await mkdtemp(join(ctx.workDir, 'd7y-mtls-pki-'));
  await initClusterCa(pki);
  const ips = [...new Set([ctx.lab.origin.ip, ...ctx.lab.clients.map((h) => h.ip), '127.0.0.1'])];
  await issueNodeCertificate(pki, { name: 'lab', ips });
  const tls = { mode: 'mutual' as const, ca: join(pki, 'ca.crt'), cert: join(pki, 'lab.crt'), key: join(pki, 'lab.key') };
  return onD7yCluster(ctx, 'd7y-mtls', 'd7y get', () => undefined, (d7y, p, out) => d7y.get(p, ctx.url, out, ctx.timeoutMs), { lab: { tls } });
}

/**
 * `d7y` with encryption at rest on every daemon (the disk storage's `encryption.keyFile`,
 * AES-256-GCM per piece; one key for the run).
 */
export async function runD7yEncrypted(ctx: ModeContext): Promise<ModeRun> {
  const keyDir = await mkdtemp(join(ctx.workDir, 'd7y-encrypted-key-'));
  const keyFile = join(keyDir, 'pieces.key');
  await writeFile(keyFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  return onD7yCluster(ctx, 'd7y-encrypted', 'd7y get', () => undefined, (d7y, p, out) => d7y.get(p, ctx.url, out, ctx.timeoutMs),
    { lab: { disk: { encryption: { keyFile } } } });
}

/** The proxy port of a client's peer: fixed per host, distinct on loopback too. */
export function proxyPort(h: LabHost): number {
  return 24100 + h.index;
}

/**
 * The d7y cluster, and on all clients at once `curl -x` through the host's own peer's proxy
 * (`X-Dragonfly-Use-P2P: true`, so the GET goes through the swarm): no CLI start.
 */
export function runCurlProxy(ctx: ModeContext): Promise<ModeRun> {
  return onD7yCluster(ctx, 'curl-proxy', 'curl -x', proxyConfig, (_d7y, p, out) => curlProxy(ctx, p, out, ctx.url));
}

/**
 * The same with warm daemons: before the timed phase the seed fetches the warm-up file with `d7y
 * get`, then every peer through its proxy, as `d7y-warm` does with `d7y get`. Clients start no
 * node process.
 */
export function runCurlProxyWarm(ctx: ModeContext): Promise<ModeRun> {
  return onD7yCluster(ctx, 'curl-proxy-warm', 'curl -x', proxyConfig, (_d7y, p, out) => curlProxy(ctx, p, out, ctx.url),
    { prepare: warmUp(ctx, 'curl-proxy-warm', (p, out, url) => curlProxy(ctx, p, out, url)) });
}

const proxyConfig = (h: LabHost): Record<string, unknown> => ({ proxy: { listen: { port: proxyPort(h) } } });

/** curl fetching `url` through the proxy of `p`'s daemon, asking for P2P. */
function curlProxy(ctx: ModeContext, p: LabDaemon, out: string, url: string): BenchProcess {
  const [cmd, args] = inHost(p.host, 'curl', ['-sf', '--max-time', String(Math.ceil(ctx.timeoutMs / 1000)), '-x', `http://127.0.0.1:${proxyPort(p.host)}`,
    '-H', 'X-Dragonfly-Use-P2P: true', '-o', out, url]);
  return startProcess(ctx.teardown, `curl -x on ${p.host.name}`, cmd, args, { logFile: `${out}.log` });
}

/** The wall-clock millisecond a client wrote to its done file, or undefined while there is none. */
async function readDoneAt(path: string): Promise<number | undefined> {
  const text = (await readFile(path, 'utf8').catch(() => '')).trim();
  return text ? Number(text) : undefined;
}

/**
 * BitTorrent with aria2c: a fresh opentracker (whitelisting only this torrent) and an aria2c
 * seeder on the origin host, an aria2c leecher per client, DHT/LPD/PEX off. A leecher's
 * completion is the time its on-download-complete hook fires; all are stopped afterwards.
 */
export async function runBt(ctx: ModeContext): Promise<ModeRun> {
  const dir = join(ctx.workDir, 'bt');
  await mkdir(dir, { recursive: true });
  const origin = ctx.lab.origin;
  const trackerPort = 26969;
  const torrent = join(dir, 'file.torrent');
  const pieceExp = ctx.sizeBytes > 2 * 1024 ** 3 ? 22 : 20;
  await run('mktorrent', ['-a', `http://${origin.ip}:${trackerPort}/announce`, '-l', String(pieceExp), '-o', torrent, join(ctx.root, ctx.fileName)], 120_000);
  const infoHash = /Info Hash:\s*([0-9a-f]{40})/i.exec(await run('aria2c', ['-S', torrent]))?.[1];
  if (!infoHash) throw new Error('aria2c -S printed no info hash for the torrent');
  await writeFile(join(dir, 'whitelist.txt'), `${infoHash}\n`);
  const [tcmd, targs] = inHost(origin, 'opentracker', ['-i', origin.ip, '-p', String(trackerPort), '-P', String(trackerPort), '-d', dir, '-w', 'whitelist.txt']);
  const tracker = startProcess(ctx.teardown, 'opentracker', tcmd, targs, { cwd: dir, logFile: join(dir, 'tracker.log') });
  const common = ['--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false',
    '--disable-ipv6=true', '--file-allocation=none', '--bt-max-peers=0', '--seed-ratio=0.0', '--seed-time=60',
    '--bt-tracker-connect-timeout=5', '--summary-interval=0', '--console-log-level=warn', '--allow-overwrite=true',
    '--auto-file-renaming=false', '--check-certificate=false'];
  const port = (h: LabHost): number => 27000 + h.index;
  const [scmd, sargs] = inHost(origin, 'aria2c', [...common, torrent, '-d', ctx.root, `--listen-port=${port(origin)}`,
    '--check-integrity=true', '--bt-seed-unverified=true']);
  const seeder = startProcess(ctx.teardown, 'aria2c seeder', scmd, sargs, { logFile: join(dir, 'seeder.log') });
  await new Promise((r) => setTimeout(r, 2_000));
  const outputs = ctx.lab.clients.map((h) => join(dir, h.name, ctx.fileName));
  const doneFile = (h: LabHost): string => join(dir, `${h.name}.done`);
  const leechers: BenchProcess[] = [];
  const starts = await Promise.all(ctx.lab.clients.map(async (h) => {
    await mkdir(join(dir, h.name), { recursive: true });
    const hook = join(dir, `${h.name}-hook.sh`);
    await writeFile(hook, `#!/bin/sh\ndate +%s%3N > '${doneFile(h)}'\n`, { mode: 0o755 });
    const [cmd, args] = inHost(h, 'aria2c', [...common, torrent, '-d', join(dir, h.name), `--listen-port=${port(h)}`,
      `--on-bt-download-complete=${hook}`]);
    return () => {
      const p = startProcess(ctx.teardown, `aria2c on ${h.name}`, cmd, args, { logFile: join(dir, `${h.name}.log`) });
      leechers.push(p);
      return p;
    };
  }));
  const doneAt = (i: number): Promise<number | undefined> => readDoneAt(doneFile(ctx.lab.clients[i]!));
  const waitAll = async (): Promise<void> => {
    const deadline = Date.now() + ctx.timeoutMs;
    while (Date.now() < deadline) {
      const done = await Promise.all(ctx.lab.clients.map((_, i) => doneAt(i)));
      if (done.every((d) => d !== undefined)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const p of leechers) void stopProcess(p);
  };
  const watcher = new Promise<void>((r) => setImmediate(r)).then(waitAll);
  const r = await timed(ctx, 'aria2c leechers', starts, { 'aria2c seeder': () => [seeder.pid], opentracker: () => [tracker.pid] }, doneAt);
  await watcher;
  await stopProcess(seeder);
  await stopProcess(tracker);
  await rm(join(dir, 'whitelist.txt'), { force: true });
  return { ...r, outputs, notes: [`torrent pieces of ${2 ** pieceExp / 1024} KiB`] };
}

/**
 * The floor for a Node.js swarm (`support/relay-floor.ts`): a seed process on the origin host and
 * one process per client that only move, hash and write the bytes, in the ideal relay pattern
 * (each client gets one part from the seed and passes it on to every other client). Not a product
 * mode: it shows what Node itself costs per GiB for the same work, beside d7y and aria2c.
 */
export function runNodeRelay(ctx: ModeContext): Promise<ModeRun> {
  return nodeRelay(ctx, 'node-relay', {});
}

/**
 * The same floor with its data path native (`bench/native`, RELAY_NATIVE=1): each part moves from
 * socket to file and relays in a thread of its own, JavaScript only setting it up. It shows what a
 * Node.js peer could cost per GiB with no JavaScript per read.
 */
export function runNodeRelayNative(ctx: ModeContext): Promise<ModeRun> {
  return nodeRelay(ctx, 'node-relay-native', { RELAY_NATIVE: '1' });
}

async function nodeRelay(ctx: ModeContext, mode: string, env: NodeJS.ProcessEnv): Promise<ModeRun> {
  const dir = join(ctx.workDir, mode);
  await mkdir(dir, { recursive: true });
  const script = fileURLToPath(new URL('./support/relay-floor.js', import.meta.url));
  const origin = ctx.lab.origin;
  const at = (h: LabHost): string => `${h.ip}:${29000 + h.index}`;
  const [scmd, sargs] = inHost(origin, process.execPath, [script, 'seed', at(origin), ctx.url, String(ctx.sizeBytes),
    String(ctx.lab.clients.length), join(dir, 'seed.bin')]);
  const seed = startProcess(ctx.teardown, `${mode} seed`, scmd, sargs, { logFile: join(dir, 'seed.log'), env });
  // Clients retry until the seed listens; the pause keeps the seed's own start out of the timed phase.
  await new Promise((r) => setTimeout(r, 1_000));
  const outputs = ctx.lab.clients.map((h) => join(dir, `${h.name}.bin`));
  const doneFile = (i: number): string => join(dir, `h${i + 1}.done`);
  const r = await timed(ctx, `${mode} clients`, ctx.lab.clients.map((h, i) => () => {
    const [cmd, args] = inHost(h, process.execPath, [script, 'client', at(h), String(i), at(origin), ctx.lab.clients.map(at).join(','), String(ctx.sizeBytes), outputs[i]!, doneFile(i)]);
    return startProcess(ctx.teardown, `${mode} on ${h.name}`, cmd, args, { logFile: join(dir, `${h.name}.log`), env });
  }), { [`${mode} seed`]: () => [seed.pid] }, (i) => readDoneAt(doneFile(i)));
  await stopProcess(seed);
  return { ...r, outputs, notes: ['a floor, not a product mode: no scheduler, gRPC or piece bookkeeping'] };
}
