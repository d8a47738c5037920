import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { freePort, tmpDir } from './env.js';
import { startCli, waitForOutput } from './run-cli.js';

export interface AllInOneOptions {
  plugins?: unknown;
  /** A test dir used before (its data dir is kept): a restart of the same node. Default: a fresh one. */
  dir?: string;
  /** Merged into the `manager` section (which sets a free listen port). */
  manager?: Record<string, unknown>;
  /** Merged into the `scheduler` section (which sets a free listen port). */
  scheduler?: Record<string, unknown>;
  /** Merged into the `peer` section (which sets free ports and the scheduler). */
  peer?: Record<string, unknown>;
  /** Environment of the `d7y up` process, over the test's own. */
  env?: NodeJS.ProcessEnv;
  /** The node's `security` section (e.g. `tls`). */
  security?: Record<string, unknown>;
}

export interface AllInOneConfig {
  dir: string;
  /** The node's config file, for `d7y up -c`. */
  file: string;
  dataDir: string;
  /** `http://127.0.0.1:<port>` of the node's manager. */
  managerUrl: string;
  /** The normal peer's local API socket, for `d7y get --socket`. */
  socket: string;
  /** `127.0.0.1:<port>` of the normal peer's proxy and registry mirror. */
  proxy: string;
}

export interface AllInOne extends AllInOneConfig {
  /** The `d7y up` process (stopped in teardown). */
  process: ChildProcess;
  banner: string;
}

/** Writes the config of an all-in-one node on free ports (in a temp dir unless `opts.dir`), optionally with a plugins.json. */
export async function writeAllInOneConfig(t: ExecutionContext, opts: AllInOneOptions = {}): Promise<AllInOneConfig> {
  const dir = opts.dir ?? await tmpDir(t);
  const [sched, upload, rpc, pieceHttp, manager, proxy] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const dataDir = join(dir, 'data');
  const config: Record<string, unknown> = {
    dataDir,
    manager: { listen: { port: manager }, ...opts.manager },
    scheduler: { listen: { port: sched }, ...opts.scheduler },
    peer: { schedulers: [`127.0.0.1:${sched}`], upload: { port: upload }, rpc: { port: rpc }, pieceHttp: { port: pieceHttp }, proxy: { listen: { port: proxy } }, ...opts.peer },
    ...(opts.security && { security: opts.security }),
  };
  if (opts.plugins) {
    await writeFile(join(dir, 'plugins.json'), JSON.stringify(opts.plugins, null, 2));
    config.pluginsFile = join(dir, 'plugins.json');
  }
  const file = join(dir, 'node.json');
  await writeFile(file, JSON.stringify(config, null, 2));
  const scheme = (opts.security?.tls as { mode?: string } | undefined)?.mode ?? 'none';
  return { dir, file, dataDir, managerUrl: `${scheme === 'none' ? 'http' : 'https'}://127.0.0.1:${manager}`, socket: join(dataDir, 'peer/peer.sock'), proxy: `127.0.0.1:${proxy}` };
}

/** Starts `d7y up` (see writeAllInOneConfig) and waits until it is ready; stopped in teardown. */
export async function startAllInOne(t: ExecutionContext, opts: AllInOneOptions = {}): Promise<AllInOne> {
  const config = await writeAllInOneConfig(t, opts);
  const node = startCli(t, ['up', '-c', config.file], { env: opts.env });
  const banner = await waitForOutput(node, /d7y: ready: .*\n/, 90_000);
  return { ...config, process: node, banner };
}
