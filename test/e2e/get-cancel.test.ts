import test, { type ExecutionContext } from 'ava';
import { spawn, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { LocalApiClient } from '../../core/protocol/local-api/local-api-client.js';
import { taskId } from '../../core/task/task-id.js';
import { D7yClient, isD7yError } from '../../sdk/index.js';
import { d7yBin, freePort, tmpDir } from '../support/env.js';
import { startOriginServer } from '../support/origin-server.js';
import { runCli, startCli, stopProcess, waitForOutput } from '../support/run-cli.js';

const MIB = 1024 * 1024;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A `d7y peer` with no scheduler (downloads go to the origin) and 1 MiB pieces, on its own data dir. */
async function startPeer(t: ExecutionContext, dir: string): Promise<{ socket: string; env: NodeJS.ProcessEnv }> {
  const config = join(dir, 'peer.yaml');
  await writeFile(config, [
    `dataDir: ${join(dir, 'data')}`,
    `peer: { schedulers: [], upload: { port: ${await freePort()} }, rpc: { port: ${await freePort()} }, pieceHttp: { port: ${await freePort()} }, proxy: { listen: { port: ${await freePort()} } }, download: { pieceLengthMin: ${MIB}, concurrency: 2 } }`,
  ].join('\n'));
  const env = { D7Y_DATA_DIR: join(dir, 'data') };
  const peer = startCli(t, ['peer', '-c', config], { env });
  await waitForOutput(peer, /d7y: ready: .*\n/, 60_000);
  return { socket: join(dir, 'data/peer/peer.sock'), env };
}

async function until(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('-O never replaces what is not a regular file: a named pipe, a socket, a symbolic link (or, for the daemon, a directory) is refused, --overwrite or not', async (t) => {
  const origin = await startOriginServer(t, { files: { '/f.bin': randomBytes(64 * 1024) } });
  const dir = await tmpDir(t);
  const env = { D7Y_DATA_DIR: join(dir, 'data') };
  const fifo = join(dir, 'pipe');
  execFileSync('mkfifo', [fifo]);
  const sock = join(dir, 'sock');
  const server = createServer().listen(sock);
  t.teardown(() => server.close());
  const target = join(dir, 'target.bin');
  await writeFile(target, 'mine');
  const link = join(dir, 'link.bin');
  await symlink(target, link);
  await mkdir(join(dir, 'sub'));

  const cases: [string, RegExp][] = [
    [fifo, /it is a named pipe, and only a regular file is ever replaced/],
    [sock, /it is a socket/], [link, new RegExp(`it is a symbolic link to ${target.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`)],
  ];
  for (const [path, said] of cases) {
    const r = await runCli(['get', origin.urlOf('/f.bin'), '-O', path, '--overwrite', '--no-progress'], { env });
    t.is(r.code, 2, `${path}: ${r.stderr}`);
    t.regex(r.stderr, said);
    t.regex(r.stderr, /fix: /);
  }
  t.true((await lstat(fifo)).isFIFO() && (await lstat(sock)).isSocket() && (await lstat(link)).isSymbolicLink(), 'nothing was replaced');
  t.is(await readFile(target, 'utf8'), 'mine');
  t.regex((await runCli(['get', origin.urlOf('/f.bin'), '-O', link, '--overwrite'], { env })).stderr, /fix: give the file itself to -O \(-O .*target\.bin\)/);

  const peer = await startPeer(t, await tmpDir(t));
  const client = await D7yClient.connect({ socket: peer.socket });
  t.teardown(() => client.close());
  const refused = await client.download(origin.urlOf('/f.bin'), { output: fifo, overwrite: true }).catch((e: unknown) => e);
  t.true(isD7yError(refused, 'D7Y_INVALID_ARGUMENT'), `the daemon refuses too: ${String(refused)}`);
  const onDir = await client.download(origin.urlOf('/f.bin'), { output: join(dir, 'sub'), overwrite: true }).catch((e: unknown) => e);
  t.regex(String((onDir as Error).message), /it is a directory/);
  t.true((await lstat(fifo)).isFIFO());
});

test('Ctrl-C on d7y get cancels the download in the daemon: nothing appears at -O, the pieces are kept, and the rerun resumes', async (t) => {
  const file = randomBytes(16 * MIB);
  const origin = await startOriginServer(t, { files: { '/f.bin': file }, behaviour: { rateBytesPerSec: 512 * 1024 } });
  const dir = await tmpDir(t);
  const peer = await startPeer(t, dir);
  const api = new LocalApiClient(peer.socket);
  t.teardown(() => api.close());
  const url = origin.urlOf('/f.bin');
  const id = taskId({ url });
  const out = join(dir, 'out', 'f.bin');
  await mkdir(join(dir, 'out'));

  const get = spawn(process.execPath, [d7yBin, 'get', url, '-O', out, '--socket', peer.socket, '--no-progress'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  get.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const exited = new Promise<number | null>((res) => get.once('exit', (code) => res(code)));
  t.teardown(() => stopProcess(get));
  await until('two pieces are held', async () => Number((await api.stat(id).catch((): Record<string, unknown> => ({}))).heldPieces ?? 0) >= 2);
  get.kill('SIGINT');
  t.is(await exited, 130, stderr);
  t.regex(stderr, /d7y: cancelled; nothing was written to .*f\.bin; the pieces fetched so far are kept/);

  await until('the daemon stops the download', async () => (await api.stat(id)).running === false, 10_000);
  const held = Number((await api.stat(id)).heldPieces);
  t.true(held >= 2 && held < 16, `held ${held} of 16 pieces`);
  await new Promise((r) => setTimeout(r, 2_000));
  t.deepEqual(await readdir(join(dir, 'out')), [], 'no output and no temporary file appeared');
  t.is(Number((await api.stat(id)).heldPieces), held, 'the download did not go on after the cancel');

  const before = origin.served.bytes;
  origin.behave('/f.bin', { rateBytesPerSec: 0 });
  const again = await runCli(['get', url, '-O', out, '--socket', peer.socket, '--no-progress'], { timeoutMs: 60_000 });
  t.is(again.code, 0, again.stderr);
  t.is(sha256(await readFile(out)), sha256(file));
  const fetched = origin.served.bytes - before;
  t.true(fetched <= (16 - held) * MIB, `the rerun fetched ${fetched} bytes for ${16 - held} missing pieces`);
});

test('Ctrl-C on a daemonless d7y get stops its peer cleanly: exit 130, no output, and the next get resumes at once', async (t) => {
  const file = randomBytes(12 * MIB);
  const origin = await startOriginServer(t, { files: { '/g.bin': file }, behaviour: { rateBytesPerSec: 512 * 1024 } });
  const dir = await tmpDir(t);
  const config = join(dir, 'node.yaml');
  await writeFile(config, `dataDir: ${join(dir, 'data')}\npeer: { schedulers: [], download: { pieceLengthMin: ${MIB}, concurrency: 2 } }\n`);
  const out = join(dir, 'g.bin');
  const get = spawn(process.execPath, [d7yBin, 'get', origin.urlOf('/g.bin'), '-O', out, '-c', config, '--no-progress'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  get.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const exited = new Promise<number | null>((res) => get.once('exit', (code) => res(code)));
  t.teardown(() => stopProcess(get));
  await until('bytes flow from the origin', async () => origin.served.bytes >= 3 * MIB);
  get.kill('SIGINT');
  t.is(await exited, 130, stderr);
  t.regex(stderr, /d7y: cancelled/);
  await t.throwsAsync(lstat(out), undefined, 'nothing at -O');

  const before = origin.served.bytes;
  origin.behave('/g.bin', { rateBytesPerSec: 0 });
  const again = await runCli(['get', origin.urlOf('/g.bin'), '-O', out, '-c', config, '--no-progress'], { timeoutMs: 60_000 });
  t.is(again.code, 0, again.stderr);
  t.notRegex(again.stderr, /waiting/, 'the cancelled get left no lock behind');
  t.is(sha256(await readFile(out)), sha256(file));
  t.true(origin.served.bytes - before < file.length, `the rerun fetched ${origin.served.bytes - before} bytes: it resumed`);
});

test('a resume after the origin changed (same URL, new ETag) starts the task again: the bytes are the new file, never a mix', async (t) => {
  const old = randomBytes(12 * MIB);
  const fresh = randomBytes(12 * MIB);
  const origin = await startOriginServer(t, { files: { '/v.bin': old }, behaviour: { rateBytesPerSec: 512 * 1024 } });
  const dir = await tmpDir(t);
  const peer = await startPeer(t, dir);
  const api = new LocalApiClient(peer.socket);
  t.teardown(() => api.close());
  const url = origin.urlOf('/v.bin');
  const id = taskId({ url });
  const out = join(dir, 'v.bin');

  const get = spawn(process.execPath, [d7yBin, 'get', url, '-O', out, '--socket', peer.socket, '--no-progress'], { stdio: 'ignore' });
  const exited = new Promise<number | null>((res) => get.once('exit', (code) => res(code)));
  t.teardown(() => stopProcess(get));
  await until('two pieces are held', async () => Number((await api.stat(id).catch((): Record<string, unknown> => ({}))).heldPieces ?? 0) >= 2);
  get.kill('SIGINT');
  t.is(await exited, 130);
  await until('the daemon stops the download', async () => (await api.stat(id)).running === false, 10_000);
  t.true(Number((await api.stat(id)).heldPieces) >= 2, 'old pieces are held');

  origin.setFile('/v.bin', fresh);
  origin.behave('/v.bin', { rateBytesPerSec: 0 });
  const again = await runCli(['get', url, '-O', out, '--socket', peer.socket, '--no-progress'], { timeoutMs: 60_000 });
  t.is(again.code, 0, again.stderr);
  t.is(sha256(await readFile(out)), sha256(fresh), 'the whole new file, no old piece');
});
