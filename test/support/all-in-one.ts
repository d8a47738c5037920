import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { freePort, tmpDir } from './env.js';
import { startCli, waitForOutput } from './run-cli.js';

export interface AllInOne {
  dir: string;
  /** The `d7y up` process (stopped in teardown). */
  process: ChildProcess;
  /** The normal peer's local API socket, for `d7y get --socket`. */
  socket: string;
  banner: string;
}

/** Starts `d7y up` on free ports in a temp data dir (stopped in teardown), optionally with a plugins.json. */
export async function startAllInOne(t: ExecutionContext, opts: { plugins?: unknown } = {}): Promise<AllInOne> {
  const dir = await tmpDir(t);
  const [sched, upload, rpc, pieceHttp, manager] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const config = join(dir, 'node.yaml');
  const lines = [
    `dataDir: ${join(dir, 'data')}`,
    `manager: { listen: { port: ${manager} } }`,
    `scheduler: { listen: { port: ${sched} } }`,
    `peer: { schedulers: ["127.0.0.1:${sched}"], upload: { port: ${upload} }, rpc: { port: ${rpc} }, pieceHttp: { port: ${pieceHttp} } }`,
  ];
  if (opts.plugins) {
    await writeFile(join(dir, 'plugins.json'), JSON.stringify(opts.plugins, null, 2));
    lines.push(`pluginsFile: ${join(dir, 'plugins.json')}`);
  }
  await writeFile(config, lines.join('\n'));
  const node = startCli(t, ['up', '-c', config]);
  const banner = await waitForOutput(node, /d7y: ready: .*\n/, 90_000);
  return { dir, process: node, socket: join(dir, 'data/peer/peer.sock'), banner };
}
