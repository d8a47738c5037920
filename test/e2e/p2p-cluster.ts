import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { LocalApiClient } from '../../core/protocol/local-api/local-api-client.js';
import { ClusterAuth } from '../../core/protocol/auth/cluster-auth.js';
import { pieceHttpAuthHeader } from '../../core/roles/peer/upload/piece-http-server.js';
import { freePort, tmpDir } from '../support/env.js';
import { startCli, stopProcess, waitForOutput } from '../support/run-cli.js';

/** A d7y daemon process of a test cluster. */
export interface DaemonProcess {
  name: string;
  child: ChildProcess;
  configFile: string;
  dataDir: string;
  /** The local API socket (peers only). */
  socket: string;
  /** The scheduler's `host:port` (scheduler only). */
  address: string;
}

const READY = /d7y: ready/;

/** Pieces of 1 MiB in tests (the 4 MiB floor lowered by config, as DESIGN §4 allows). */
export const TEST_PIECE_FLOOR = 1024 * 1024;

/** The credential of a test cluster, as it goes into each config's `security` section. */
export interface ClusterSecrets {
  clusterSecret: string;
  seedSecret: string;
}

const secretsByScheduler = new Map<string, ClusterSecrets>();

/** The secrets of the test cluster whose scheduler listens on `address` (`host:port`), if one does. */
export function clusterSecretsOf(address: string): ClusterSecrets | undefined {
  return secretsByScheduler.get(address);
}

/**
 * Real d7y processes on loopback for end-to-end tests: a plugins.json with the http source, disk
 * storage and the default evaluator, then `d7y scheduler --config` and `d7y peer --config`
 * processes, each with its own data dir and random ports, all stopped by PID at teardown. Every
 * config carries the cluster's random `security.clusterSecret` (and `seedSecret` for the scheduler
 * and seed peers), as a static cluster is set up.
 */
export class P2PCluster {
  /** The secrets every scheduler and peer of this cluster is configured with. */
  readonly secrets: ClusterSecrets = { clusterSecret: randomBytes(32).toString('hex'), seedSecret: randomBytes(32).toString('hex') };

  private constructor(readonly t: ExecutionContext, readonly dir: string, readonly pluginsFile: string) {}

  /** `sources`: the source plugins loaded, by name or with a config (default only http). */
  static async create(t: ExecutionContext, opts: { sources?: (string | { name: string; config: unknown })[]; disk?: Record<string, unknown> } = {}): Promise<P2PCluster> {
    const dir = await tmpDir(t, 'd7y-p2p-');
    const pluginsFile = join(dir, 'plugins.json');
    await writeFile(pluginsFile, JSON.stringify({
      plugins: [...(opts.sources ?? ['http']).map((s) => (typeof s === 'string' ? { name: s } : s)), { name: 'disk', ...(opts.disk && { config: opts.disk }) }, { name: 'default' }],
      scheduler: { evaluator: 'default' },
    }));
    return new P2PCluster(t, dir, pluginsFile);
  }

  async scheduler(name = 'scheduler', extra: Record<string, unknown> = {}): Promise<DaemonProcess> {
    const port = await freePort();
    const dataDir = join(this.dir, name);
    const config = {
      dataDir, pluginsFile: this.pluginsFile, log: { level: 'warn' }, security: this.secrets, scheduler: { listen: { host: '127.0.0.1', port }, ...extra },
    };
    secretsByScheduler.set(`127.0.0.1:${port}`, this.secrets);
    return this.launch('scheduler', name, dataDir, config, { address: `127.0.0.1:${port}` });
  }

  /** A peer daemon; `schedulers` defaults to none (pure back-to-source). */
  /** `security`: the peer's security block instead of the cluster's secrets. */
  async peer(name: string, opts: { seed?: boolean; schedulers?: string[]; dataDir?: string; peer?: Record<string, unknown>; security?: Record<string, unknown> } = {}): Promise<DaemonProcess> {
    const dataDir = opts.dataDir ?? join(this.dir, name);
    const socket = join(dataDir, 'peer.sock');
    const config = {
      dataDir, pluginsFile: this.pluginsFile, log: { level: 'warn' },
      security: opts.security ?? (opts.seed ? this.secrets : { clusterSecret: this.secrets.clusterSecret }),
      peer: {
        seed: opts.seed ?? false, dataDir, socket,
        host: { ip: '127.0.0.1', hostname: name },
        upload: { port: 0 }, rpc: { port: 0 }, pieceHttp: { port: 0 }, proxy: { listen: { port: 0 } },
        schedulers: opts.schedulers ?? [],
        announceIntervalMs: 5_000,
        download: { pieceLengthMin: TEST_PIECE_FLOOR, directMaxBytes: TEST_PIECE_FLOOR, stallMs: 2_000 },
        ...opts.peer,
      },
    };
    return this.launch('peer', name, dataDir, config, { socket });
  }

  /** Stops a daemon (SIGTERM, then SIGKILL) and waits for its exit. */
  async stop(d: DaemonProcess): Promise<void> {
    await stopProcess(d.child);
  }

  /** Starts the same daemon again from its config file. */
  async restart(d: DaemonProcess): Promise<DaemonProcess> {
    await stopProcess(d.child);
    const child = startCli(this.t, [d.name.startsWith('scheduler') ? 'scheduler' : 'peer', '--config', d.configFile]);
    await waitForOutput(child, READY, 60_000);
    return { ...d, child };
  }

  /** The credential of a member of this cluster; with `seed`, of a scheduler or seed peer. */
  auth(seed = false): ClusterAuth {
    return new ClusterAuth(this.secrets.clusterSecret, seed ? this.secrets.seedSecret : undefined);
  }

  /** The header a piece-HTTP GET of piece `n` of `taskId` needs in this cluster. */
  pieceAuth(taskId: string, n: number): Record<string, string> {
    return pieceHttpAuthHeader(this.auth(), taskId, n);
  }

  /** A local API client of a peer, closed at teardown. */
  client(d: DaemonProcess): LocalApiClient {
    const c = new LocalApiClient(d.socket);
    this.t.teardown(() => c.close());
    return c;
  }

  private async launch(role: 'scheduler' | 'peer', name: string, dataDir: string, config: unknown,
    extra: Partial<DaemonProcess>): Promise<DaemonProcess> {
    await mkdir(dataDir, { recursive: true });
    const configFile = join(this.dir, `${name}.json`);
    await writeFile(configFile, JSON.stringify(config, null, 2));
    const child = startCli(this.t, [role, '--config', configFile]);
    await waitForOutput(child, READY, 60_000);
    return { name, child, configFile, dataDir, socket: '', address: '', ...extra };
  }
}

/** Deterministic pseudo-random bytes (fast, incompressible enough for transfer tests). */
export function testBytes(size: number, seed = 7): Buffer {
  const buf = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i + 4 <= size; i += 4) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    buf.writeUInt32LE(x, i);
  }
  for (let i = size - (size % 4); i < size; i += 1) buf[i] = i & 0xff;
  return buf;
}
