import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { SharedReadHandles } from './read-handles.js';

async function file(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'd7y-read-handles-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'content');
  await writeFile(path, Buffer.from('0123456789'));
  return path;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('reads of one file close together share one handle, closed a second after the last read', async (t) => {
  const path = await file(t);
  const handles = new SharedReadHandles();
  const a = await handles.acquire(path);
  const b = await handles.acquire(path);
  t.is(a.handle, b.handle, 'overlapping reads share the open file');
  const buf = Buffer.alloc(4);
  await b.handle.read(buf, 0, 4, 3);
  t.is(buf.toString(), '3456');
  a.release();
  b.release();
  b.release();
  const c = await handles.acquire(path);
  t.is(c.handle, a.handle, 'a read right after the last one reuses the handle');
  c.release();
  await sleep(1_300);
  t.is(c.handle.fd, -1, 'closed once unused for a second');
  t.is(handles.size, 0);
});

test('a retired handle is not handed out again and closes when its last read ends', async (t) => {
  const path = await file(t);
  const handles = new SharedReadHandles();
  const a = await handles.acquire(path);
  handles.retire(path);
  const b = await handles.acquire(path);
  t.not(b.handle, a.handle, 'a read after the file was retired opens it again');
  t.true(a.handle.fd >= 0, 'the read under way keeps its handle');
  a.release();
  await sleep(50);
  t.is(a.handle.fd, -1, 'closed as soon as its last read ended');
  b.release();
  handles.retireAll();
  await sleep(50);
  t.is(b.handle.fd, -1);
});

test('a missing file rejects like open, and is not cached', async (t) => {
  const path = join(await file(t), '..', 'missing');
  const handles = new SharedReadHandles();
  await t.throwsAsync(handles.acquire(path), { code: 'ENOENT' });
  await sleep(10);
  t.is(handles.size, 0);
});
