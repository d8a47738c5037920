import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { taskId } from '../../core/index.js';
import { d7yBin, freePort } from '../support/env.js';
import { startOriginServer } from '../support/origin-server.js';
import { runCli } from '../support/run-cli.js';
import { P2PCluster, TEST_PIECE_FLOOR, testBytes } from './p2p-cluster.js';

const MIB = 1024 * 1024;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** `d7y get … -O -`, stdout kept as bytes. */
function getToStdout(args: string[]): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [d7yBin, 'get', ...args, '-O', '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout: Buffer.concat(out), stderr }); });
  });
}

test('a second get is a local hit; --range writes exactly the range; -O - streams the file', async (t) => {
  const file = testBytes(12 * MIB + 12345, 1);
  const origin = await startOriginServer(t, { files: { '/f.bin': file, '/r.bin': file } });
  const cluster = await P2PCluster.create(t);
  const peer = await cluster.peer('solo');
  const url = origin.urlOf('/f.bin');
  const out1 = join(cluster.dir, 'one.bin');
  const first = await runCli(['get', url, '-O', out1, '--socket', peer.socket, '--digest', `sha256:${sha256(file)}`]);
  t.is(first.code, 0, first.stderr);
  t.is(sha256(await readFile(out1)), sha256(file));
  const requestsAfterFirst = origin.served.requests('/f.bin');
  const bytesAfterFirst = origin.served.bytes;

  const out2 = join(cluster.dir, 'two.bin');
  const second = await runCli(['get', url, '-O', out2, '--socket', peer.socket]);
  t.is(second.code, 0, second.stderr);
  t.is(sha256(await readFile(out2)), sha256(file));
  t.is(origin.served.requests('/f.bin'), requestsAfterFirst, 'the local hit contacted the origin');
  t.is(origin.served.bytes, bytesAfterFirst);

  const streamed = await getToStdout([url, '--socket', peer.socket]);
  t.is(streamed.code, 0, streamed.stderr);
  t.is(sha256(streamed.stdout), sha256(file));

  const rangeUrl = origin.urlOf('/r.bin');
  const start = 3 * MIB + 17;
  const end = 5 * MIB + 99;
  const before = origin.served.bytes;
  const outRange = join(cluster.dir, 'range.bin');
  const ranged = await runCli(['get', rangeUrl, '-O', outRange, '--socket', peer.socket, '--range', `${start}-${end}`]);
  t.is(ranged.code, 0, ranged.stderr);
  t.true((await readFile(outRange)).equals(file.subarray(start, end + 1)));
  t.true(origin.served.bytes - before <= 3 * TEST_PIECE_FLOOR, `a range download fetched ${origin.served.bytes - before} bytes`);

  const streamedRange = await getToStdout([rangeUrl, '--socket', peer.socket, '--range', `${start}-${end}`]);
  t.true(streamedRange.stdout.equals(file.subarray(start, end + 1)));
});

test('pieces reach a normal peer from a seed peer; the origin is read once', async (t) => {
  const file = testBytes(24 * MIB, 3);
  const origin = await startOriginServer(t, { files: { '/p.bin': file } });
  const cluster = await P2PCluster.create(t);
  const scheduler = await cluster.scheduler();
  const [, peer] = await Promise.all([
    cluster.peer('seed', { seed: true, schedulers: [scheduler.address] }),
    cluster.peer('child', { schedulers: [scheduler.address] }),
  ]);
  const url = origin.urlOf('/p.bin');
  const out = join(cluster.dir, 'p.out');
  const r = await runCli(['get', url, '-O', out, '--socket', peer.socket]);
  t.is(r.code, 0, r.stderr);
  t.is(sha256(await readFile(out)), sha256(file));
  t.true(origin.served.bytes <= file.length * 1.05);
  const stat = await cluster.client(peer).stat(taskId({ url })) as { trafficTypes: Record<string, number>; parentIds: string[] };
  t.deepEqual(Object.keys(stat.trafficTypes), ['remote-peer']);
  t.true(stat.parentIds.every((id) => id.endsWith('-seed')));
});

test('finished tasks survive a daemon restart and are served again', async (t) => {
  const file = testBytes(6 * MIB + 5, 9);
  const origin = await startOriginServer(t, { files: { '/keep.bin': file } });
  const cluster = await P2PCluster.create(t);
  const httpPort = await freePort();
  let peer = await cluster.peer('keeper', { peer: { pieceHttp: { port: httpPort } } });
  const url = origin.urlOf('/keep.bin');
  t.is((await runCli(['get', url, '-O', join(cluster.dir, 'a.bin'), '--socket', peer.socket])).code, 0);
  const requests = origin.served.requests();

  peer = await cluster.restart(peer);
  const id = taskId({ url });
  const piece1 = await fetch(`http://127.0.0.1:${httpPort}/pieces/${id}/1`, { headers: cluster.pieceAuth(id, 1) });
  t.is(piece1.status, 200);
  t.true(Buffer.from(await piece1.arrayBuffer()).equals(file.subarray(TEST_PIECE_FLOOR, 2 * TEST_PIECE_FLOOR)));
  const partial = await fetch(`http://127.0.0.1:${httpPort}/pieces/${id}/1`, { headers: { range: 'bytes=10-19', ...cluster.pieceAuth(id, 1) } });
  t.is(partial.status, 206);
  t.true(Buffer.from(await partial.arrayBuffer()).equals(file.subarray(TEST_PIECE_FLOOR + 10, TEST_PIECE_FLOOR + 20)));

  const again = await runCli(['get', url, '-O', join(cluster.dir, 'b.bin'), '--socket', peer.socket]);
  t.is(again.code, 0, again.stderr);
  t.is(sha256(await readFile(join(cluster.dir, 'b.bin'))), sha256(file));
  t.is(origin.served.requests(), requests, 'the restarted daemon went to the origin again');
});

test('bad input fails with one clear error and leaves nothing behind', async (t) => {
  const file = testBytes(3 * MIB, 5);
  const origin = await startOriginServer(t, { files: { '/ok.bin': file, '/secret.bin': file } });
  origin.behave('/secret.bin', { status: 403 });
  const cluster = await P2PCluster.create(t);
  const deadScheduler = `127.0.0.1:${await freePort()}`;
  const peer = await cluster.peer('bad', { schedulers: [deadScheduler], peer: { download: { pieceLengthMin: TEST_PIECE_FLOOR, directMaxBytes: 0 } } });
  const s = ['--socket', peer.socket];
  const outDir = join(cluster.dir, 'out');
  await writeFile(join(cluster.dir, 'marker'), '');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(outDir);

  const scheme = await runCli(['get', 'ftp://example.com/x.bin', '-O', join(outDir, 'x'), ...s]);
  t.is(scheme.code, 2);
  t.regex(scheme.stderr, /no source plugin handles "ftp:\/\/" URLs \(loaded schemes: http, https\)/);
  t.regex(scheme.stderr, /fix: .*d7y plugin add/);

  const missing = await runCli(['get', origin.urlOf('/nope.bin'), '-O', join(outDir, 'nope'), ...s]);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /404/);
  const forbidden = await runCli(['get', origin.urlOf('/secret.bin'), '-O', join(outDir, 'secret'), ...s]);
  t.is(forbidden.code, 1);
  t.regex(forbidden.stderr, /403/);

  const fallback = await runCli(['get', origin.urlOf('/ok.bin'), '-O', join(outDir, 'ok'), ...s]);
  t.is(fallback.code, 0, fallback.stderr);
  t.is(sha256(await readFile(join(outDir, 'ok'))), sha256(file));

  const p2pOnly = await runCli(['get', `${origin.urlOf('/ok.bin')}?v=2`, '-O', join(outDir, 'p2p'), '--disable-back-to-source', ...s]);
  t.is(p2pOnly.code, 1);
  t.regex(p2pOnly.stderr, /scheduler .* back-to-source is disabled/);
  t.regex(p2pOnly.stderr, /fix: /);

  const wrong = await runCli(['get', origin.urlOf('/ok.bin'), '-O', join(outDir, 'wrong'), '--digest', `sha256:${'0'.repeat(64)}`, ...s]);
  t.is(wrong.code, 1);
  t.regex(wrong.stderr, /digest sha256:[0-9a-f]{64}, not the sha256:0{64} asked for/);

  const noDir = await runCli(['get', origin.urlOf('/ok.bin'), '-O', join(outDir, 'no/such/dir/f'), ...s]);
  t.is(noDir.code, 2);
  t.regex(noDir.stderr, /directory .*no\/such\/dir does not exist/);

  const exists = await runCli(['get', origin.urlOf('/ok.bin'), '-O', join(outDir, 'ok'), ...s]);
  t.is(exists.code, 1);
  t.regex(exists.stderr, /already exists[\s\S]*--overwrite/);

  const noDaemon = await runCli(['get', origin.urlOf('/ok.bin'), '-O', join(outDir, 'nd'), '--socket', join(cluster.dir, 'none.sock'), '--daemon']);
  t.is(noDaemon.code, 1);
  t.regex(noDaemon.stderr, /no d7y daemon is listening on .*none\.sock[\s\S]*d7y up/);

  for (const r of [scheme, missing, forbidden, wrong, noDir, noDaemon, p2pOnly]) {
    t.false(/\n\s+at /.test(r.stderr), `stack trace printed: ${r.stderr}`);
  }
  t.deepEqual((await readdir(outDir)).sort(), ['ok'], 'a failed get left a file behind');
});
