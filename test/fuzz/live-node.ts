import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { ClusterAuth } from '../../core/protocol/auth/cluster-auth.js';
import { startAllInOne, type AllInOne } from '../support/all-in-one.js';
import { startOriginServer, type OriginServer } from '../support/origin-server.js';
import { runCli } from '../support/run-cli.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export const ROOT_PASSWORD = 'fuzz-root-password-1';

/** A `d7y up` node under fuzzing, its listeners' ports, and an origin for control downloads. */
export interface LiveNode extends AllInOne {
  origin: OriginServer;
  ports: { scheduler: number; rpc: number; upload: number; pieceHttp: number };
  /** A console session token of root. */
  session: string;
  /** A personal access token of root with every scope. */
  pat: string;
  /** The node's cluster credential (member and seed), from the secrets `d7y up` generated. */
  auth: ClusterAuth;
  /** True while the node process runs. */
  alive(): boolean;
  /** Downloads a fresh 9 MiB file through the node's peer and checks its bytes; resolves with how long it took. */
  controlDownload(t: ExecutionContext): Promise<number>;
}

/** Starts the node (manager, scheduler, seed peer, peer) with a root password and signs in. */
export async function startLiveNode(t: ExecutionContext): Promise<LiveNode> {
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < 8; i++) files[`/control-${i}.bin`] = randomBytes(9 * 1024 * 1024 + i);
  const origin = await startOriginServer(t, { files });
  const node = await startAllInOne(t, { manager: { rootPassword: ROOT_PASSWORD, auth: { maxFailedLoginsPerIp: 100_000 } } });
  const config = JSON.parse(await readFile(node.file, 'utf8')) as {
    scheduler: { listen: { port: number } }; peer: { rpc: { port: number }; upload: { port: number }; pieceHttp: { port: number } };
  };
  const signin = await fetch(`${node.managerUrl}/api/v1/users/signin`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'root', password: ROOT_PASSWORD }),
  });
  const session = ((await signin.json()) as { token: string }).token;
  const made = await fetch(`${node.managerUrl}/api/v1/personal-access-tokens`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${session}` }, body: JSON.stringify({ name: 'fuzz', scopes: ['job', 'cluster'] }),
  });
  const pat = ((await made.json()) as { token: string }).token;
  let downloads = 0;
  const auth = new ClusterAuth((await readFile(join(node.dataDir, 'cluster-secret'), 'utf8')).trim(), (await readFile(join(node.dataDir, 'seed-secret'), 'utf8')).trim());
  return {
    ...node, origin, session, pat, auth,
    ports: { scheduler: config.scheduler.listen.port, rpc: config.peer.rpc.port, upload: config.peer.upload.port, pieceHttp: config.peer.pieceHttp.port },
    alive: () => node.process.exitCode === null && node.process.signalCode === null,
    async controlDownload(tt) {
      const path = `/control-${downloads++}.bin`;
      const out = join(node.dir, `control-${downloads}.bin`);
      const started = performance.now();
      const r = await runCli(['get', origin.urlOf(path), '-O', out, '--socket', node.socket, '--no-progress'], { timeoutMs: 60_000 });
      const ms = performance.now() - started;
      tt.is(r.code, 0, `the control download after the campaign failed: ${r.stderr}`);
      tt.is(sha256(await readFile(out)), sha256(files[path]!));
      return ms;
    },
  };
}
