import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { DataDirLock } from './data-dir-lock.js';

async function folder(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'd7y-lock-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('two peers taking one folder at the same moment: exactly one gets it, the other is told who holds it', async (t) => {
  const dir = await folder(t);
  for (let round = 0; round < 20; round += 1) {
    const locks = [new DataDirLock(dir), new DataDirLock(dir)];
    const results = await Promise.allSettled(locks.map((l) => l.acquire()));
    t.is(results.filter((r) => r.status === 'fulfilled').length, 1, `round ${round}: one holder`);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
    t.is(refused?.reason?.code, 'D7Y_CONFLICT');
    t.regex(String(refused?.reason?.message), new RegExp(`in use by process ${process.pid}`));
    await Promise.all(locks.map((l) => l.release()));
  }
  t.deepEqual(await readdir(dir), [], 'no lock and no temporary file is left behind');
});

test('a lock left by a process that is gone is taken over, and the file then names this process', async (t) => {
  const dir = await folder(t);
  await writeFile(join(dir, 'peer.lock'), JSON.stringify({ pid: 2 ** 22 + 17, command: 'd7y peer' }));
  const lock = new DataDirLock(dir);
  await lock.acquire();
  t.is(JSON.parse(await readFile(join(dir, 'peer.lock'), 'utf8')).pid, process.pid);
  await lock.release();
  t.deepEqual(await readdir(dir), []);
});

test('a lock file another process is still writing is not taken for one left behind', async (t) => {
  const dir = await folder(t);
  const file = join(dir, 'peer.lock');
  await writeFile(file, '');
  const lock = new DataDirLock(dir);
  const taking = lock.acquire();
  await new Promise((r) => setTimeout(r, 150));
  await writeFile(file, JSON.stringify({ pid: process.ppid, command: 'd7y get' }));
  const err = await t.throwsAsync(taking, { message: new RegExp(`in use by process ${process.ppid} \\(d7y get\\)`) });
  t.is((err as { code?: string }).code, 'D7Y_CONFLICT');
  t.is(JSON.parse(await readFile(file, 'utf8')).pid, process.ppid, 'the other process keeps its lock');
});

test('a lock file that never names an owner counts as left behind after a second', async (t) => {
  const dir = await folder(t);
  await writeFile(join(dir, 'peer.lock'), 'garbage');
  const lock = new DataDirLock(dir);
  await lock.acquire();
  t.is(JSON.parse(await readFile(join(dir, 'peer.lock'), 'utf8')).pid, process.pid);
  await lock.release();
});
