import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { D7yClient, isD7yError } from '../../sdk/index.js';
import { startAllInOne } from '../support/all-in-one.js';
import { tmpDir } from '../support/env.js';
import { startOriginServer } from '../support/origin-server.js';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function collect(): { sink: PassThrough; bytes: () => Buffer } {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c));
  return { sink, bytes: () => Buffer.concat(chunks) };
}

test('D7yClient.connect downloads through a running daemon to a file and to a stream, with progress, a range, stat, list and delete', async (t) => {
  const file = randomBytes(10 * 1024 * 1024 + 3);
  const origin = await startOriginServer(t, { files: { '/sdk.bin': file } });
  const up = await startAllInOne(t);
  const client = await D7yClient.connect({ socket: up.socket });
  t.teardown(() => client.close());
  t.is(client.mode, 'daemon');

  const seen: number[] = [];
  const out = join(up.dir, 'sdk.bin');
  const r = await client.download(origin.urlOf('/sdk.bin'), { output: out, onProgress: (p) => seen.push(p.bytes) });
  t.is(sha256(await readFile(out)), sha256(file));
  t.is(r.bytes, file.length);
  t.true(seen.length > 0 && seen[seen.length - 1] === file.length, `progress ${seen.join(',')}`);

  const { sink, bytes } = collect();
  const s = await client.download(origin.urlOf('/sdk.bin'), { stream: sink, range: '100-1048675' });
  t.is(s.taskId, r.taskId);
  t.deepEqual(bytes(), file.subarray(100, 1048676));

  const held = await client.stat(r.taskId);
  t.is(held.contentLength, file.length);
  t.true((await client.list()).some((x) => x.taskId === r.taskId));
  await client.delete(r.taskId);
  const gone = await client.stat(r.taskId).catch((e: unknown) => e);
  t.true(isD7yError(gone, 'D7Y_TASK_NOT_FOUND'), String(gone));

  const both = await client.download(origin.urlOf('/sdk.bin'), { output: out, stream: sink }).catch((e: unknown) => e);
  t.true(isD7yError(both, 'D7Y_INVALID_ARGUMENT'));
  t.regex((both as { fix: string }).fix, /exactly one|output|stream/);
  const badDigest = await client.download(origin.urlOf('/sdk.bin'), { output: join(up.dir, 'x.bin'), digest: `sha256:${'0'.repeat(64)}` }).catch((e: unknown) => e);
  t.true(isD7yError(badDigest), String(badDigest));
  t.regex((badDigest as Error).message, /digest|sha256/i);
});

test('D7yClient.embedded runs a peer in this process: the same download, stat and errors; close() frees its folder', async (t) => {
  const file = randomBytes(7 * 1024 * 1024);
  const origin = await startOriginServer(t, { files: { '/e.bin': file } });
  const dir = await tmpDir(t);
  const client = await D7yClient.embedded({ config: { dataDir: join(dir, 'data') } });
  t.is(client.mode, 'embedded');
  const { sink, bytes } = collect();
  const r = await client.download(origin.urlOf('/e.bin'), { stream: sink });
  t.is(sha256(bytes()), sha256(file));
  t.is((await client.stat(r.taskId)).finished, true);
  const second = await D7yClient.embedded({ config: { dataDir: join(dir, 'data') } }).catch((e: unknown) => e);
  t.true(isD7yError(second, 'D7Y_CONFLICT'), String(second));
  await client.close();
  const again = await D7yClient.embedded({ config: { dataDir: join(dir, 'data') } });
  const hit = await again.download(origin.urlOf('/e.bin'), { output: join(dir, 'e.bin') });
  t.true(hit.localHit, 'the pieces stayed in the folder');
  t.is(sha256(await readFile(join(dir, 'e.bin'))), sha256(file));
  t.regex(hit.outputMode ?? '', /^(clone|hardlink)$/, 'by default the output costs no copy');
  const copied = await again.download(origin.urlOf('/e.bin'), { output: join(dir, 'copied.bin'), outputMode: 'copy' });
  t.is(copied.outputMode, 'copy');
  t.is(sha256(await readFile(join(dir, 'copied.bin'))), sha256(file));
  await again.close();
});
