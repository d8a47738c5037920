import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inHost, type LabHost } from './net-lab.js';
import { run, startProcess, waitUntil, type BenchProcess } from './processes.js';
import type { Teardown } from './teardown.js';

/** The built CLI (`dist/cli/d7y.js`). */
export const d7yBin = fileURLToPath(new URL('../../cli/d7y.js', import.meta.url));

/** The node flags of the CLI's `#!/usr/bin/env -S node …` line, so daemons run as the installed `d7y` runs them. */
export function binNodeFlags(bin = d7yBin): string[] {
  const first = readFileSync(bin, 'utf8').split('\n', 1)[0] ?? '';
  const m = /^#!\S*env(?:\s+-S)?\s+node\b(.*)$/.exec(first);
  return m ? m[1]!.split(/\s+/).filter(Boolean) : [];
}

/** What every daemon of a lab shares beyond the defaults. */
export interface D7yLabOptions {
  tls?: { mode: 'server' | 'mutual'; ca: string; cert: string; key: string };
  disk?: Record<string, unknown>;
  /** More plugins for plugins.json (a source with its config: `{ name: 's3', config: {…} }`). */
  plugins?: Record<string, unknown>[];
}

/** A running d7y daemon of a benchmark. */
export interface LabDaemon {
  proc: BenchProcess;
  host: LabHost;
  dataDir: string;
  logFile: string;
  /** Peers: the local API socket. */
  socket: string;
  /** Peers: the HTTP proxy's `ip:port`, from the ready banner (empty when it is off). */
  proxy: string;
  /** The Prometheus endpoint's URL inside the daemon's host, from the ready banner (empty when it is off). */
  metrics: string;
}

/**
 * The sum of a daemon's samples of counter `name` whose labels include `labels` (e.g.
 * `result="succeeded"`), read from its metrics endpoint inside its host; undefined without one or
 * when it does not answer (the figure is then left out, the run goes on).
 */
export async function daemonCounter(daemon: LabDaemon, name: string, labels = ''): Promise<number | undefined> {
  if (!daemon.metrics) return undefined;
  const [cmd, args] = inHost(daemon.host, 'curl', ['-sf', '--max-time', '5', daemon.metrics]);
  const text = await run(cmd, args, 10_000).catch(() => undefined);
  if (text === undefined) return undefined;
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^(\w+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (m?.[1] === name && (m[2] ?? '').includes(labels)) sum += Number(m[3]);
  }
  return sum;
}

/**
 * Starts d7y scheduler and peer daemons (`d7y scheduler|peer --config`) inside lab hosts, each
 * with its own data dir under `workDir`, random service ports, logs beside the config.
 * `D7Y_BENCH_LOG` sets the daemons' log level and `D7Y_BENCH_NODE_ARGS` adds node flags to
 * them (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`); `D7Y_BENCH_GET_ARGS` adds flags to every
 * `d7y get` (e.g. `--hardlink`). The daemons share a cluster secret (and the scheduler and seeds a
 * seed secret), as a deployed cluster does.
 */
export class D7yLab {
  private readonly pluginsFile: string;
  private readonly secrets: Record<string, unknown> = { clusterSecret: randomBytes(32).toString('hex'), seedSecret: randomBytes(32).toString('hex') };

  /** `options.tls`: every daemon's `security.tls`; `options.disk`: the disk storage plugin's config; `options.plugins`: more plugins. */
  constructor(private readonly teardown: Teardown, private readonly workDir: string, private readonly options: D7yLabOptions = {}) {
    this.pluginsFile = join(workDir, 'plugins.json');
    if (options.tls) this.secrets.tls = options.tls;
  }

  async init(): Promise<void> {
    await mkdir(this.workDir, { recursive: true });
    await writeFile(this.pluginsFile, JSON.stringify({
      plugins: [{ name: 'http' }, ...(this.options.plugins ?? []), { name: 'disk', ...(this.options.disk && { config: this.options.disk }) }, { name: 'default' }],
      scheduler: { evaluator: 'default' },
    }));
  }

  /** A scheduler on `host.ip:port`; resolves with its address once it is ready. */
  async scheduler(host: LabHost, port: number): Promise<{ daemon: LabDaemon; address: string }> {
    const dataDir = join(this.workDir, `scheduler-${host.name}`);
    const config = {
      dataDir, pluginsFile: this.pluginsFile, log: { level: process.env.D7Y_BENCH_LOG ?? 'warn' }, security: this.secrets,
      scheduler: { listen: { host: host.ip, port }, metrics: { listen: { host: host.ip, port: 0 } } },
    };
    const daemon = await this.launch('scheduler', `scheduler-${host.name}`, host, dataDir, config, '');
    return { daemon, address: `${host.ip}:${port}` };
  }

  /** A peer daemon (a seed peer with `seed`), announcing `uploadBytesPerSec` as its upload bandwidth. */
  async peer(host: LabHost, opts: { seed: boolean; schedulers: string[]; uploadBytesPerSec: number; peer?: Record<string, unknown> }): Promise<LabDaemon> {
    const name = `${opts.seed ? 'seed' : 'peer'}-${host.name}`;
    const dataDir = join(this.workDir, name);
    const socket = join(dataDir, 'peer.sock');
    const config = {
      dataDir, pluginsFile: this.pluginsFile, log: { level: process.env.D7Y_BENCH_LOG ?? 'warn' },
      security: opts.seed ? this.secrets : { clusterSecret: this.secrets.clusterSecret, ...(this.options.tls && { tls: this.options.tls }) },
      peer: {
        seed: opts.seed, dataDir, socket,
        host: { ip: host.ip, hostname: name },
        rpc: { port: 0 }, pieceHttp: { port: 0 }, proxy: { listen: { port: 0 } }, metrics: { listen: { port: 0 } },
        schedulers: opts.schedulers, announceIntervalMs: 5_000,
        ...opts.peer,
        // Pieces still arriving from the origin are passed on (the default) unless D7Y_BENCH_CUT_THROUGH=0.
        upload: { port: 0, maxBandwidth: Math.round(opts.uploadBytesPerSec), ...(process.env.D7Y_BENCH_CUT_THROUGH === '0' && { cutThroughFromOrigin: false }),
          ...(opts.peer?.upload as Record<string, unknown> | undefined) },
      },
    };
    return this.launch('peer', name, host, dataDir, config, socket);
  }

  /** `d7y get url -o output` through the peer's socket inside its host; resolves with the exit code. */
  get(daemon: LabDaemon, url: string, output: string, timeoutMs: number): BenchProcess {
    const [cmd, args] = inHost(daemon.host, process.execPath, [...binNodeFlags(), d7yBin, 'get', url, '-O', output, '--socket', daemon.socket,
      '--no-progress', '--overwrite', '--timeout', `${Math.ceil(timeoutMs / 1000)}s`, ...(process.env.D7Y_BENCH_GET_ARGS ?? '').split(' ').filter(Boolean)]);
    return startProcess(this.teardown, `d7y get on ${daemon.host.name}`, cmd, args, { logFile: `${output}.log` });
  }

  /** `d7y cache import <file> --replicas 1` through the peer's socket; resolves with the task id. */
  async cacheImport(daemon: LabDaemon, file: string): Promise<string> {
    const [cmd, args] = inHost(daemon.host, process.execPath, [...binNodeFlags(), d7yBin, 'cache', 'import', file, '--replicas', '1', '--ttl', '1h',
      '--socket', daemon.socket, '--no-progress']);
    return run(cmd, args, 600_000);
  }

  /** `d7y cache export <id> -O output` through the peer's socket inside its host; resolves with the exit code. */
  cacheExport(daemon: LabDaemon, id: string, output: string, timeoutMs: number): BenchProcess {
    const [cmd, args] = inHost(daemon.host, process.execPath, [...binNodeFlags(), d7yBin, 'cache', 'export', id, '-O', output, '--socket', daemon.socket,
      '--no-progress', '--overwrite', '--timeout', `${Math.ceil(timeoutMs / 1000)}s`]);
    return startProcess(this.teardown, `d7y cache export on ${daemon.host.name}`, cmd, args, { logFile: `${output}.log` });
  }

  private async launch(role: 'scheduler' | 'peer', name: string, host: LabHost, dataDir: string, config: unknown,
    socket: string): Promise<LabDaemon> {
    await mkdir(dataDir, { recursive: true });
    const configFile = join(this.workDir, `${name}.json`);
    const logFile = join(this.workDir, `${name}.log`);
    await writeFile(configFile, JSON.stringify(config, null, 2));
    const nodeArgs = (process.env.D7Y_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const [cmd, args] = inHost(host, process.execPath, [...binNodeFlags(), ...nodeArgs, d7yBin, role, '--config', configFile]);
    const proc = startProcess(this.teardown, name, cmd, args, { logFile });
    let banner = '';
    await waitUntil(`${name} ready`, async () => {
      if (proc.child.exitCode !== null) throw new Error(`${name} exited early; see ${logFile}`);
      banner = /d7y: ready.*/.exec(await readFile(logFile, 'utf8').catch(() => ''))?.[0] ?? '';
      return banner !== '';
    }, 60_000, 100);
    return { proc, host, dataDir, logFile, socket, proxy: /"proxy":"([^"]+)"/.exec(banner)?.[1] ?? '',
      metrics: /"metrics":"(http[^"]+)"/.exec(banner)?.[1] ?? '' };
  }
}
