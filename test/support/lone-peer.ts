import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { freePort } from './env.js';
import { startCli, waitForOutput } from './run-cli.js';

/** A `d7y peer` daemon with no scheduler (it goes to the origin), its data in `<dir>/data`. */
export interface LonePeer {
  process: ChildProcess;
  /** Its local API socket, `<dir>/data/peer/peer.sock`. */
  socket: string;
}

/** Starts `d7y peer -c` on free ports with `dataDir: <dir>/data`, waits until it is ready; stopped in teardown. */
export async function startLonePeer(t: ExecutionContext, dir: string, env: NodeJS.ProcessEnv): Promise<LonePeer> {
  const config = join(dir, 'peer.yaml');
  await writeFile(config, [
    `dataDir: ${join(dir, 'data')}`,
    `peer: { schedulers: [], upload: { port: ${await freePort()} }, rpc: { port: ${await freePort()} }, pieceHttp: { port: ${await freePort()} }, proxy: { listen: { port: ${await freePort()} } } }`,
  ].join('\n'));
  const daemon = startCli(t, ['peer', '-c', config], { env });
  await waitForOutput(daemon, /d7y: ready: .*\n/, 60_000);
  return { process: daemon, socket: join(dir, 'data/peer/peer.sock') };
}
