import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startAllInOne } from '../support/all-in-one.js';
import { startOriginServer } from '../support/origin-server.js';
import { runCli, stopProcess } from '../support/run-cli.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('d7y up runs manager, scheduler, seed peer and peer in one process; get works through it and it stops cleanly', async (t) => {
  const file = randomBytes(12 * 1024 * 1024);
  const origin = await startOriginServer(t, { files: { '/model.bin': file } });
  const { dir, process: node, banner, socket } = await startAllInOne(t);
  for (const role of ['manager', 'scheduler', 'seed-peer', 'peer']) t.regex(banner, new RegExp(`[:;] ${role} `));

  const out = join(dir, 'model.bin');
  const get = await runCli(['get', origin.urlOf('/model.bin'), '-O', out, '--socket', socket, '--no-progress'], { timeoutMs: 90_000 });
  t.is(get.code, 0, get.stderr);
  t.is(sha256(await readFile(out)), sha256(file));
  t.true(origin.served.bytes <= file.length * 1.05, `origin served ${origin.served.bytes} bytes for a ${file.length}-byte file`);

  const servedBefore = origin.served.bytes;
  const again = await runCli(['get', origin.urlOf('/model.bin'), '-O', '-', '--socket', socket, '--no-progress'], { timeoutMs: 60_000 });
  t.is(again.code, 0, again.stderr);
  t.is(sha256(again.stdoutBytes), sha256(file));
  t.is(origin.served.bytes, servedBefore, 'a second get on the same host is a local hit');

  const verified = await runCli(['get', origin.urlOf('/model.bin'), '-O', '-', '--digest', `sha256:${sha256(file)}`, '--socket', socket], { timeoutMs: 60_000 });
  t.is(verified.code, 0, verified.stderr);
  t.is(verified.stdoutBytes.length, file.length);
  const wrong = await runCli(['get', origin.urlOf('/model.bin'), '-O', '-', '--digest', `sha256:${'0'.repeat(64)}`, '--socket', socket], { timeoutMs: 60_000 });
  t.is(wrong.code, 1);
  t.regex(wrong.stderr, /digest/i);

  const exited = new Promise<number | null>((res) => node.once('exit', (code) => res(code)));
  await stopProcess(node, 20_000);
  t.is(await exited, 0);
});
