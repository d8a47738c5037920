import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { D7yClient, type DownloadProgress } from '../../sdk/index.js';
import { startAllInOne } from '../support/all-in-one.js';
import { d7yBin, tmpDir } from '../support/env.js';
import { startLonePeer } from '../support/lone-peer.js';
import { startOriginServer } from '../support/origin-server.js';
import { runCli, stopProcess } from '../support/run-cli.js';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const MiB = 1024 * 1024;

/** Runs `d7y <args>` under a pseudo-terminal (util-linux `script`), so stderr is a TTY; returns what the terminal showed. */
function runOnTerminal(t: ExecutionContext, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; screen: string }> {
  const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, d7yBin, ...args].map(quote).join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  t.teardown(() => stopProcess(child));
  let screen = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { screen += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { screen += d; });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, screen }); });
  });
}

test('a get off a terminal prints one summary line: bytes, time, speed and the split — all from the origin first, from the local cache next', async (t) => {
  const file = randomBytes(9 * MiB);
  const origin = await startOriginServer(t, { files: { '/f.bin': file } });
  const dir = await tmpDir(t);
  const env = { D7Y_DATA_DIR: join(dir, 'data') };
  const peer = await startLonePeer(t, dir, env);
  const get = (name: string, ...more: string[]) => runCli(['get', origin.urlOf('/f.bin'), '-O', join(dir, name), '--socket', peer.socket, ...more], { env, timeoutMs: 60_000 });

  const first = await get('a.bin');
  t.is(first.code, 0, first.stderr);
  t.is(first.stdout, '');
  t.regex(first.stderr, /^d7y: 9\.0 MiB in \d+(\.\d)? s \([\d.]+ [KMG]?i?B\/s\): 0 B from peers, 9\.0 MiB from the origin, 0 B from the local cache → .*a\.bin\n$/);
  t.is(sha256(await readFile(join(dir, 'a.bin'))), sha256(file));

  const second = await get('b.bin', '--no-progress');
  t.is(second.code, 0, second.stderr);
  t.regex(second.stderr, /^d7y: 9\.0 MiB in .*: 0 B from peers, 0 B from the origin, 9\.0 MiB from the local cache → .*b\.bin\n$/, '--no-progress keeps the summary');

  const quiet = await get('c.bin', '-q');
  t.is(quiet.code, 0, quiet.stderr);
  t.is(quiet.stderr, '', '--quiet prints nothing on success');
  t.is(quiet.stdout, '');
  t.is(sha256(await readFile(join(dir, 'c.bin'))), sha256(file));

  const json = await get('d.bin', '--json');
  t.is(json.code, 0, json.stderr);
  t.is(json.stderr, '', '--json replaces the summary line');
  const result = JSON.parse(json.stdout) as Record<string, unknown>;
  t.like(result, { bytes: file.length, fromPeers: 0, fromOrigin: 0, fromCache: file.length });

  const streamed = await runCli(['get', origin.urlOf('/f.bin'), '-O', '-', '--socket', peer.socket], { env, timeoutMs: 60_000 });
  t.is(streamed.code, 0, streamed.stderr);
  t.is(sha256(streamed.stdoutBytes), sha256(file), 'stdout carries the bytes only');
  t.regex(streamed.stderr, /^d7y: 9\.0 MiB in .*: 0 B from peers, 0 B from the origin, 9\.0 MiB from the local cache → stdout\n$/);

  const failed = await get('e.bin', '-q', '--digest', `sha256:${'0'.repeat(64)}`);
  t.is(failed.code, 1);
  t.regex(failed.stderr, /digest/i, '--quiet still reports a failure');
  t.true(origin.served.bytes <= file.length * 1.05, `the origin served ${origin.served.bytes} bytes: once, as the summaries said`);
});

test('with d7y up (seed peer and peer), the summary and --json say the bytes came from peers', async (t) => {
  const file = randomBytes(12 * MiB);
  const other = randomBytes(10 * MiB);
  const origin = await startOriginServer(t, { files: { '/model.bin': file, '/other.bin': other } });
  const node = await startAllInOne(t);
  const env = { D7Y_DATA_DIR: node.dataDir };

  const get = await runCli(['get', origin.urlOf('/model.bin'), '-O', join(node.dir, 'model.bin'), '--socket', node.socket], { env, timeoutMs: 90_000 });
  t.is(get.code, 0, get.stderr);
  const m = /^d7y: 12\.0 MiB in .*: ([\d.]+ [KMG]?i?B) from peers, ([\d.]+ [KMG]?i?B) from the origin, 0 B from the local cache → .*model\.bin\n$/.exec(get.stderr);
  t.truthy(m, get.stderr);
  t.not(m?.[1], '0 B', 'the seed peer served the peer');

  const json = await runCli(['get', origin.urlOf('/other.bin'), '-O', join(node.dir, 'other.bin'), '--socket', node.socket, '--json'], { env, timeoutMs: 90_000 });
  t.is(json.code, 0, json.stderr);
  const r = JSON.parse(json.stdout) as { bytes: number; fromPeers: number; fromOrigin: number; fromCache: number };
  t.true(r.fromPeers > 0, json.stdout);
  t.is(r.fromPeers + r.fromOrigin + r.fromCache, other.length);
  t.is(r.fromCache, 0);
});

test('the SDK\'s progress events and result carry the split from peers, origin and cache', async (t) => {
  const file = randomBytes(9 * MiB);
  const origin = await startOriginServer(t, { files: { '/f.bin': file } });
  const dir = await tmpDir(t);
  const peer = await startLonePeer(t, dir, { D7Y_DATA_DIR: join(dir, 'data') });
  const client = await D7yClient.connect({ socket: peer.socket });
  t.teardown(() => client.close());

  const events: DownloadProgress[] = [];
  const first = await client.download(origin.urlOf('/f.bin'), { output: join(dir, 'a.bin'), onProgress: (p) => events.push(p) });
  t.like(first, { bytes: file.length, fromPeers: 0, fromOrigin: file.length, fromCache: 0 });
  t.true(events.length > 0);
  t.like(events.at(-1), { bytes: file.length, fromPeers: 0, fromOrigin: file.length, fromCache: 0 });
  for (const e of events) t.is(e.fromOrigin, e.bytes, 'every event says its bytes came from the origin');

  const cached: DownloadProgress[] = [];
  const second = await client.download(origin.urlOf('/f.bin'), { output: join(dir, 'b.bin'), onProgress: (p) => cached.push(p) });
  t.like(second, { fromPeers: 0, fromOrigin: 0, fromCache: file.length });
  t.like(cached.at(-1), { fromOrigin: 0, fromCache: file.length });
});

test('on a terminal, d7y get shows a bar with human sizes, a speed and the share from the origin', async (t) => {
  const file = randomBytes(16 * MiB);
  const origin = await startOriginServer(t, { files: { '/slow.bin': file }, behaviour: { rateBytesPerSec: 4 * MiB } });
  const dir = await tmpDir(t);
  const env = { D7Y_DATA_DIR: join(dir, 'data') };
  const peer = await startLonePeer(t, dir, env);

  const r = await runOnTerminal(t, ['get', origin.urlOf('/slow.bin'), '-O', join(dir, 'slow.bin'), '--socket', peer.socket], env, 90_000);
  t.is(r.code, 0, r.screen);
  t.regex(r.screen, /\d+\.\d MiB \/ 16\.0 MiB \| [\d.]+ [KM]iB\/s \| ETA /, r.screen);
  t.regex(r.screen, /origin 100%/, r.screen);
  t.regex(r.screen, /d7y: 16\.0 MiB in .*16\.0 MiB from the origin/, 'the summary follows the bar');
  t.is(sha256(await readFile(join(dir, 'slow.bin'))), sha256(file));
});
