import { randomBytes } from 'node:crypto';
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { startOriginServer } from './origin-server.js';
import { tmpDir } from './env.js';

async function get(url: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const res = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(10_000) });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

test('serves memory files with length, ranges and counters', async (t) => {
  const data = randomBytes(300_000);
  const origin = await startOriginServer(t, { files: { '/a/b.bin': data } });
  const full = await get(origin.urlOf('/a/b.bin'));
  t.is(full.status, 200);
  t.is(full.headers.get('content-length'), String(data.length));
  t.true(full.body.equals(data));
  const part = await get(origin.urlOf('/a/b.bin'), { headers: { range: 'bytes=100-199' } });
  t.is(part.status, 206);
  t.is(part.headers.get('content-range'), `bytes 100-199/${data.length}`);
  t.true(part.body.equals(data.subarray(100, 200)));
  const last = await get(origin.urlOf('/a/b.bin'), { headers: { range: 'bytes=-1' } });
  t.true(last.body.equals(data.subarray(-1)));
  const bad = await get(origin.urlOf('/a/b.bin'), { headers: { range: `bytes=${data.length}-` } });
  t.is(bad.status, 416);
  t.is(bad.headers.get('content-range'), `bytes */${data.length}`);
  const head = await get(origin.urlOf('/a/b.bin'), { method: 'HEAD' });
  t.is(head.headers.get('content-length'), String(data.length));
  t.is(origin.served.bytes, data.length + 100 + 1);
  t.is(origin.served.requests('/a/b.bin'), 5);
  t.is(origin.served.requests('/a/b.bin', 'HEAD'), 1);
  t.is((await get(origin.urlOf('/nope'))).status, 404);
});

test('serves a directory and refuses paths outside it', async (t) => {
  const dir = await tmpDir(t);
  await mkdir(join(dir, 'sub'));
  await writeFile(join(dir, 'sub', 'f.txt'), 'hello world');
  const origin = await startOriginServer(t, { dir });
  const r = await get(origin.urlOf('/sub/f.txt'), { headers: { range: 'bytes=6-' } });
  t.is(r.status, 206);
  t.is(r.body.toString(), 'world');
  t.is((await get(origin.urlOf('/../../etc/passwd'))).status, 404);
});

test('switchable behaviours: fail first N, refuse HEAD, chunked, ignore range, redirect, status', async (t) => {
  const data = randomBytes(10_000);
  const origin = await startOriginServer(t, { files: { '/f': data, '/g': data } });
  origin.behave('/f', { failFirst: { count: 2 } });
  t.is((await get(origin.urlOf('/f'))).status, 503);
  t.is((await get(origin.urlOf('/f'))).status, 503);
  t.is((await get(origin.urlOf('/f'))).status, 200);
  origin.clearBehaviour('/f');

  origin.behave('/f', { refuseHead: true, chunked: true, ignoreRange: true });
  t.is((await get(origin.urlOf('/f'), { method: 'HEAD' })).status, 405);
  const r = await get(origin.urlOf('/f'), { headers: { range: 'bytes=0-9' } });
  t.is(r.status, 200);
  t.is(r.headers.get('content-length'), null);
  t.true(r.body.equals(data));
  origin.clearBehaviour();

  origin.behave('/old', { redirectTo: '/g' });
  const redirect = await get(origin.urlOf('/old'));
  t.is(redirect.status, 302);
  t.is(redirect.headers.get('location'), '/g');
  origin.behave('*', { status: 403 });
  t.is((await get(origin.urlOf('/g'))).status, 403);
});

test('slow rate and dropped connections', async (t) => {
  const data = randomBytes(200_000);
  const origin = await startOriginServer(t, { files: { '/slow': data, '/drop': data } });
  origin.behave('/slow', { rateBytesPerSec: 400_000 });
  const started = Date.now();
  const r = await get(origin.urlOf('/slow'));
  t.true(r.body.equals(data));
  t.true(Date.now() - started >= 350, `took ${Date.now() - started} ms`);
  origin.behave('/drop', { dropAfterBytes: 50_000 });
  origin.served.reset();
  await t.throwsAsync(get(origin.urlOf('/drop')));
  t.is(origin.served.bytes, 50_000);
});

test('PUT stores an object that GET then serves', async (t) => {
  const origin = await startOriginServer(t);
  const data = randomBytes(5000);
  t.is((await get(origin.urlOf('/up/x'), { method: 'PUT', body: data })).status, 201);
  t.true((await get(origin.urlOf('/up/x'))).body.equals(data));
});
