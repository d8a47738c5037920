import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpDir } from '../support/env.js';
import { startOriginServer } from '../support/origin-server.js';
import { runCli } from '../support/run-cli.js';
import { P2PCluster } from './p2p-cluster.js';

const MIB = 1024 * 1024;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...await filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

test('pieces encrypted at rest move P2P as plain, checked bytes; no plain bytes or key land on disk; a peer restarted with another key says so, and fetches the file again once the task is removed', async (t) => {
  t.timeout(180_000);
  const keyDir = await tmpDir(t, 'd7y-key-');
  const keyFile = join(keyDir, 'pieces.key');
  const key = randomBytes(32).toString('hex');
  await writeFile(keyFile, `${key}\n`, { mode: 0o600 });
  const file = randomBytes(6 * MIB + 5);
  const origin = await startOriginServer(t, { files: { '/secret.bin': file } });
  const cluster = await P2PCluster.create(t, { disk: { encryption: { keyFile } } });
  const scheduler = await cluster.scheduler();
  await cluster.peer('seed', { seed: true, schedulers: [scheduler.address] });
  let child = await cluster.peer('child', { schedulers: [scheduler.address] });

  const out = join(cluster.dir, 'secret.out');
  const get = await runCli(['get', origin.urlOf('/secret.bin'), '-O', out, '--socket', child.socket, '--no-progress'], { timeoutMs: 90_000 });
  t.is(get.code, 0, get.stderr);
  t.is(sha256(await readFile(out)), sha256(file));
  t.regex(get.stderr, /[1-9][\d.]* [KMG]?i?B from peers/, 'the child got pieces from the seed: encryption is invisible to peers');
  for (const f of [...await filesUnder(join(cluster.dir, 'seed')), ...await filesUnder(join(cluster.dir, 'child'))]) {
    const bytes = await readFile(f);
    t.is(bytes.indexOf(file.subarray(MIB, MIB + 64)), -1, `${f} holds no plain piece bytes`);
    t.is(bytes.indexOf(Buffer.from(key)), -1, `${f} holds no key`);
  }

  await cluster.stop(child);
  await writeFile(keyFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  child = await cluster.restart(child);
  const id = (await runCli(['task', 'id', origin.urlOf('/secret.bin')])).stdout.trim();
  const again = join(cluster.dir, 'again.out');
  const refused = await runCli(['get', origin.urlOf('/secret.bin'), '-O', again, '--socket', child.socket, '--no-progress'], { timeoutMs: 90_000 });
  t.not(refused.code, 0, 'never wrong bytes');
  t.regex(refused.stderr, /piece \d+ of task [0-9a-f]{64} was encrypted with another key \(id [0-9a-f]{8}\) than the one in .*pieces\.key/);
  t.regex(refused.stderr, /fix: start the peer with the encryption\.keyFile the pieces were written with, or delete the task/);
  const rm = await runCli(['task', 'rm', id, '--socket', child.socket]);
  t.is(rm.code, 0, rm.stderr);
  const refetched = await runCli(['get', origin.urlOf('/secret.bin'), '-O', again, '--socket', child.socket, '--no-progress'], { timeoutMs: 90_000 });
  t.is(refetched.code, 0, refetched.stderr);
  t.is(sha256(await readFile(again)), sha256(file), 'fetched again under the new key');
});
