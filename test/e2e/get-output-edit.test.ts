import { createHash } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { taskId } from '../../core/index.js';
import { freePort } from '../support/env.js';
import { startOriginServer } from '../support/origin-server.js';
import { runCli } from '../support/run-cli.js';
import { P2PCluster, TEST_PIECE_FLOOR, testBytes } from './p2p-cluster.js';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const EDIT_AT = TEST_PIECE_FLOOR + 100;

interface GetJson { localHit: boolean; outputMode: string }

/** What `dd conv=notrunc` does: 4 bytes written in place at an offset. */
async function editInPlace(path: string, offset: number): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.write(Buffer.from('XXXX'), 0, 4, offset);
  } finally {
    await fh.close();
  }
}

const modes = [
  { name: 'the default', flags: [] as string[], made: /^(clone|hardlink)$/ },
  { name: '--copy', flags: ['--copy'], made: /^copy$/ },
  { name: '--hardlink', flags: ['--hardlink'], made: /^hardlink$/ },
];

for (const mode of modes) {
  test(`an output made with ${mode.name} and then edited in place never reaches a later get nor another peer`, async (t) => {
    const file = testBytes(5 * TEST_PIECE_FLOOR + 77, 21);
    const origin = await startOriginServer(t, { files: { '/edit.bin': file } });
    const cluster = await P2PCluster.create(t);
    const scheduler = await cluster.scheduler();
    const httpPort = await freePort();
    const holder = await cluster.peer('holder', { schedulers: [scheduler.address], peer: { pieceHttp: { port: httpPort } } });
    const env = { D7Y_DATA_DIR: join(cluster.dir, 'cli-data') };
    const url = origin.urlOf('/edit.bin');
    const id = taskId({ url });
    const out = join(cluster.dir, 'edit.out');

    const first = await runCli(['get', url, '-O', out, '--socket', holder.socket, '--json', '--no-progress', ...mode.flags], { env, timeoutMs: 60_000 });
    t.is(first.code, 0, first.stderr);
    const made = (JSON.parse(first.stdout) as GetJson).outputMode;
    t.regex(made, mode.made);
    const linked = made === 'hardlink';
    await editInPlace(out, EDIT_AT);
    const edited = await readFile(out);
    t.is(edited.toString('latin1', EDIT_AT, EDIT_AT + 4), 'XXXX');

    const piece = await fetch(`http://127.0.0.1:${httpPort}/pieces/${id}/1`, { headers: cluster.pieceAuth(id, 1) });
    const pieceBytes = Buffer.from(await piece.arrayBuffer());
    if (linked) {
      t.is(piece.status, 404, 'the holder dropped its copy once it saw the linked file changed');
    } else {
      t.is(piece.status, 200);
      t.true(pieceBytes.equals(file.subarray(TEST_PIECE_FLOOR, 2 * TEST_PIECE_FLOOR)), 'the piece endpoint serves the original bytes');
    }

    const child = await cluster.peer('child', { schedulers: [scheduler.address] });
    const childOut = join(cluster.dir, 'child.out');
    const fromChild = await runCli(['get', url, '-O', childOut, '--socket', child.socket, '--no-progress'], { env, timeoutMs: 60_000 });
    t.is(fromChild.code, 0, fromChild.stderr);
    t.is(sha256(await readFile(childOut)), sha256(file), 'the other peer got the original bytes');

    const again = join(cluster.dir, 'again.out');
    const second = await runCli(['get', url, '-O', again, '--socket', holder.socket, '--json', '--no-progress', ...mode.flags], { env, timeoutMs: 60_000 });
    t.is(second.code, 0, second.stderr);
    t.is(sha256(await readFile(again)), sha256(file), 'the next get gives the original bytes');
    t.is((JSON.parse(second.stdout) as GetJson).localHit, !linked, 'only a hard-linked copy had to be fetched again');
    t.true((await readFile(out)).equals(edited), 'the edited output keeps the edit');
  });
}

test('a hard-linked output edited while its peer was down is caught after the restart', async (t) => {
  const file = testBytes(3 * TEST_PIECE_FLOOR + 5, 22);
  const origin = await startOriginServer(t, { files: { '/restart.bin': file } });
  const cluster = await P2PCluster.create(t);
  const httpPort = await freePort();
  let peer = await cluster.peer('keeper', { peer: { pieceHttp: { port: httpPort } } });
  const env = { D7Y_DATA_DIR: join(cluster.dir, 'cli-data') };
  const url = origin.urlOf('/restart.bin');
  const out = join(cluster.dir, 'linked.out');
  const first = await runCli(['get', url, '-O', out, '--socket', peer.socket, '--hardlink'], { env, timeoutMs: 60_000 });
  t.is(first.code, 0, first.stderr);

  await cluster.stop(peer);
  await editInPlace(out, 10);
  peer = await cluster.restart(peer);
  const piece = await fetch(`http://127.0.0.1:${httpPort}/pieces/${taskId({ url })}/0`, { headers: cluster.pieceAuth(taskId({ url }), 0) });
  t.is(piece.status, 404);
  const again = join(cluster.dir, 'again.out');
  const second = await runCli(['get', url, '-O', again, '--socket', peer.socket], { env, timeoutMs: 60_000 });
  t.is(second.code, 0, second.stderr);
  t.is(sha256(await readFile(again)), sha256(file));
});
