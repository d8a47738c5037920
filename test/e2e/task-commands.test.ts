import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpDir } from '../support/env.js';
import { startLonePeer } from '../support/lone-peer.js';
import { startOriginServer } from '../support/origin-server.js';
import { runCli } from '../support/run-cli.js';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const NO_STACK = /\n\s+at .+:\d+:\d+/;
const MISSING = 'ab'.repeat(32);

interface GetJson { taskId: string; url: string; output: string; bytes: number; contentLength: number; localHit: boolean; outputMode: string; seconds: number }
interface TaskJson { taskId: string; url: string; contentLength: number; heldPieces: number; pieceCount: number; finished: boolean; running: boolean; trafficTypes: Record<string, number>; pieces?: unknown[] }

test('without a daemon: get -O dir/ names the file from the URL, get --json reports it, and task ls, stat and rm work on the same data dir', async (t) => {
  const file = randomBytes(5_000_000);
  const origin = await startOriginServer(t, { files: { '/files/my%20report.bin': file, '/files/': Buffer.from('index') } });
  const dir = await tmpDir(t);
  const env = { D7Y_DATA_DIR: join(dir, 'data') };
  const out = join(dir, 'out');
  await mkdir(out);
  const url = origin.urlOf('/files/my%20report.bin');

  const first = await runCli(['get', url, '-O', `${out}/`, '--json', '--no-progress'], { env, timeoutMs: 60_000 });
  t.is(first.code, 0, first.stderr);
  const r1 = JSON.parse(first.stdout) as GetJson;
  t.like(r1, { url, output: join(out, 'my report.bin'), bytes: file.length, contentLength: file.length, localHit: false });
  t.regex(r1.taskId, /^[0-9a-f]{64}$/);
  t.true(typeof r1.seconds === 'number' && r1.seconds >= 0);
  t.is(sha256(await readFile(join(out, 'my report.bin'))), sha256(file));

  const served = origin.served.bytes;
  const second = await runCli(['get', url, '-O', out, '--overwrite', '--json', '--no-progress'], { env, timeoutMs: 60_000 });
  t.is(second.code, 0, second.stderr);
  t.like(JSON.parse(second.stdout) as GetJson, { taskId: r1.taskId, output: join(out, 'my report.bin'), bytes: file.length, localHit: true });
  t.is(origin.served.bytes, served, 'the second get reads nothing from the origin');

  const noName = await runCli(['get', origin.urlOf('/files/'), '-O', `${out}/`], { env });
  t.is(noName.code, 2);
  t.regex(noName.stderr, /names no file to write in it\n {2}fix: give a file name: -O /);
  const jsonToStdout = await runCli(['get', url, '-O', '-', '--json'], { env });
  t.is(jsonToStdout.code, 2);
  t.regex(jsonToStdout.stderr, /^d7y: --json cannot go with -O -.*\n {2}fix: /);

  const ls = await runCli(['task', 'ls'], { env, timeoutMs: 60_000 });
  t.is(ls.code, 0, ls.stderr);
  t.regex(ls.stderr, /^d7y: no daemon on .*peer\.sock: listing tasks with a peer in this process \(data in .*data\)\n$/);
  const [header, row] = ls.stdout.trimEnd().split('\n');
  t.regex(header!, /^TASK ID +SIZE +PIECES +FINISHED +LAST ACCESS +URL$/);
  t.regex(row!, new RegExp(`^${r1.taskId} +4\\.8 MiB +2/2 +yes +\\d{4}-\\d\\d-\\d\\dT[\\d:]+Z +${url.replace(/[.%]/g, '\\$&')}$`));
  const lsJson = JSON.parse((await runCli(['task', 'ls', '--json'], { env })).stdout) as TaskJson[];
  t.is(lsJson.length, 1);
  t.like(lsJson[0], { taskId: r1.taskId, url, contentLength: file.length, heldPieces: 2, pieceCount: 2, finished: true });

  const stat = await runCli(['task', 'stat', r1.taskId.toUpperCase()], { env });
  t.is(stat.code, 0, stat.stderr);
  t.regex(stat.stdout, new RegExp(`task id +${r1.taskId}\\n`));
  t.regex(stat.stdout, /size +4\.8 MiB \(5000000 bytes\)\n/);
  t.regex(stat.stdout, /pieces +2\/2 held\n/);
  t.regex(stat.stdout, /pieces by source +back-to-source 0, remote-peer 0, local-peer 0, kept from an earlier run 2\n/);
  const statJson = JSON.parse((await runCli(['task', 'stat', r1.taskId, '--json'], { env })).stdout) as TaskJson;
  t.is(statJson.pieces?.length, 2);

  const badId = await runCli(['task', 'stat', 'abc123'], { env });
  t.is(badId.code, 2);
  t.is(badId.stderr, 'd7y: "abc123" is not a task id\n  fix: task ids are 64 lower-case hex characters (see `d7y task ls` or `d7y task id <url>`)\n', 'refused before any peer starts');
  const unknown = await runCli(['task', 'rm', MISSING], { env });
  t.is(unknown.code, 1);
  t.regex(unknown.stderr, new RegExp(`d7y: task ${MISSING} is not on this peer\\n {2}fix: list the tasks this peer holds: \`d7y task ls\``));

  const rm = await runCli(['task', 'rm', r1.taskId], { env });
  t.is(rm.code, 0, rm.stderr);
  t.is(rm.stdout, `removed task ${r1.taskId} (${url}, 2 pieces, 4.8 MiB)\n`);
  const after = await runCli(['task', 'ls', '--json'], { env });
  t.deepEqual(JSON.parse(after.stdout), []);
  const gone = await runCli(['task', 'stat', r1.taskId], { env });
  t.is(gone.code, 1);
  for (const r of [noName, jsonToStdout, badId, unknown, gone]) t.notRegex(r.stderr, NO_STACK);
});

test('with a daemon: task ls, stat and rm ask it (nothing on stderr), stat counts pieces by traffic type, and rm of a task that downloads is refused with the fix', async (t) => {
  const file = randomBytes(9 * 1024 * 1024);
  const slow = randomBytes(8 * 1024 * 1024);
  const origin = await startOriginServer(t, { files: { '/a.bin': file, '/slow.bin': slow } });
  origin.behave('/slow.bin', { rateBytesPerSec: 1024 * 1024 });
  const dir = await tmpDir(t);
  const env = { D7Y_DATA_DIR: join(dir, 'data') };
  const { socket } = await startLonePeer(t, dir, env);

  const get = await runCli(['get', origin.urlOf('/a.bin'), '-O', `${dir}/`, '--json', '--daemon'], { env, timeoutMs: 60_000 });
  t.is(get.code, 0, get.stderr);
  const result = JSON.parse(get.stdout) as GetJson;
  t.like(result, { output: join(dir, 'a.bin'), bytes: file.length, localHit: false });
  t.is(sha256(await readFile(join(dir, 'a.bin'))), sha256(file));

  const ls = await runCli(['task', 'ls', '--socket', socket, '--daemon'], { env });
  t.is(ls.code, 0, ls.stderr);
  t.is(ls.stderr, '', 'the daemon answers; no peer in this process');
  t.regex(ls.stdout, new RegExp(`\\n${result.taskId} +9\\.0 MiB +3/3 +yes `));
  const stat = await runCli(['task', 'stat', result.taskId], { env });
  t.is(stat.code, 0, stat.stderr);
  t.is(stat.stderr, '');
  t.regex(stat.stdout, /pieces by source +back-to-source 3, remote-peer 0, local-peer 0\n/);
  t.like(JSON.parse((await runCli(['task', 'stat', result.taskId, '--json'], { env })).stdout) as TaskJson, { trafficTypes: { 'back-to-source': 3 } });

  const badId = await runCli(['task', 'rm', 'not-a-task'], { env });
  t.is(badId.code, 2);
  t.regex(badId.stderr, /fix: task ids are 64 lower-case hex characters/);
  const unknown = await runCli(['task', 'stat', MISSING], { env });
  t.is(unknown.code, 1);
  t.regex(unknown.stderr, new RegExp(`^d7y: task ${MISSING} is not on this peer\\n {2}fix: list the tasks this peer holds: \`d7y task ls\``));

  const downloading = runCli(['get', origin.urlOf('/slow.bin'), '-O', join(dir, 'slow.bin'), '--json', '--daemon'], { env, timeoutMs: 60_000 });
  let running: TaskJson | undefined;
  for (let i = 0; i < 100 && !running; i++) {
    const tasks = JSON.parse((await runCli(['task', 'ls', '--json'], { env })).stdout) as TaskJson[];
    running = tasks.find((x) => x.url === origin.urlOf('/slow.bin') && x.running);
    if (!running) await new Promise((r) => setTimeout(r, 100));
  }
  t.truthy(running, 'task ls shows the download while it runs');
  const busy = await runCli(['task', 'rm', running!.taskId], { env });
  t.is(busy.code, 1);
  t.regex(busy.stderr, new RegExp(`^d7y: task ${running!.taskId} is downloading\\n {2}fix: wait for the download to end, then delete it\\n$`));
  const done = await downloading;
  t.is(done.code, 0, done.stderr);
  t.is(sha256(await readFile(join(dir, 'slow.bin'))), sha256(slow));

  const rm = await runCli(['task', 'rm', result.taskId], { env });
  t.is(rm.code, 0, rm.stderr);
  t.is(rm.stdout, `removed task ${result.taskId} (${origin.urlOf('/a.bin')}, 3 pieces, 9.0 MiB)\n`);
  const again = await runCli(['get', origin.urlOf('/a.bin'), '-O', join(dir, 'b.bin'), '--json', '--daemon'], { env, timeoutMs: 60_000 });
  t.false((JSON.parse(again.stdout) as GetJson).localHit, 'after rm the peer goes to the origin again');
  for (const r of [badId, unknown, busy]) t.notRegex(r.stderr, NO_STACK);
});
