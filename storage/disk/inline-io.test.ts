import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { InlineIo, threadCpuWait } from './inline-io.js';

async function scratch(t: { teardown(fn: () => Promise<void>): void }): Promise<{ path: string; fd: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'd7y-inline-io-'));
  const path = join(dir, 'content');
  const fd = openSync(path, 'w+');
  t.teardown(async () => { closeSync(fd); await rm(dir, { recursive: true, force: true }); });
  return { path, fd };
}

test('inline writes land whole at their position and inline reads give them back', async (t) => {
  const { path, fd } = await scratch(t);
  const io = new InlineIo();
  io.writeAll(fd, [Buffer.from('hello '), Buffer.from('world')], 4);
  t.deepEqual(readFileSync(path), Buffer.concat([Buffer.alloc(4), Buffer.from('hello world')]));
  const b = Buffer.alloc(5);
  t.is(io.read(fd, b, 5, 10), 5);
  t.is(b.toString(), 'world');
  t.true(io.inline, 'fast calls keep the I/O inline');
});

test('calls blocked past 4 ms for more than 100 ms within a second send file I/O to the threadpool for 5 s, then inline again', async (t) => {
  const { fd } = await scratch(t);
  let clock = 1000;
  let step = 0;
  const io = new InlineIo(() => (clock += step));
  const call = (ms: number): void => {
    step = ms;
    io.read(fd, Buffer.alloc(1), 1, 0);
    step = 0;
  };
  call(1);
  t.true(io.inline, 'a 1 ms read is fine');
  call(40);
  call(40);
  t.true(io.inline, 'two reads blocked for 40 ms each (80 ms in a second) leave the I/O inline');
  clock += 1_500;
  call(40);
  call(40);
  t.true(io.inline, 'the first two were more than a second ago: 80 ms in the last second');
  clock += 300;
  call(30);
  t.false(io.inline, '110 ms blocked within a second moves I/O off the event loop');
  clock += 4_900;
  t.false(io.inline, 'still on the threadpool before 5 s have passed');
  clock += 200;
  t.true(io.inline, 'inline again after 5 s');
  call(40);
  t.true(io.inline, 'the calls before the threadpool spell are not counted again');
});

test('one call blocked past 100 ms sends file I/O to the threadpool at once', async (t) => {
  const { fd } = await scratch(t);
  let clock = 1000;
  let step = 0;
  const io = new InlineIo(() => (clock += step));
  step = 120;
  io.writeAll(fd, [Buffer.from('x')], 0);
  step = 0;
  t.false(io.inline, 'a 120 ms write shows a disk that is answering');
});

test('a failed inline write throws the errno error and still counts its time', async (t) => {
  const { path } = await scratch(t);
  const readOnly = openSync(path, 'r');
  t.teardown(() => closeSync(readOnly));
  let clock = 0;
  const io = new InlineIo(() => (clock += 120));
  const err = t.throws(() => io.writeAll(readOnly, [Buffer.from('x')], 0)) as NodeJS.ErrnoException;
  t.is(err.code, 'EBADF');
  t.false(io.inline, 'the slow failed call moved I/O to the threadpool');
});

test('a call that was slow only because the thread waited for a CPU stays inline', async (t) => {
  const { fd } = await scratch(t);
  let clock = 1000;
  let waited = 0;
  let during = 0;
  // Each call takes 5 ms on the clock, and the thread's CPU wait grows by `during / 2` ms per call.
  const io = new InlineIo(() => { clock += 5; return clock; }, () => { waited += during / 2; return waited; });
  during = 9; // 4.5 of each call's 5 ms spent waiting for a CPU
  io.writeAll(fd, [Buffer.from('x')], 0);
  io.read(fd, Buffer.alloc(1), 1, 0);
  t.true(io.inline, 'time spent preempted is not the disk\'s');
  during = 1; // 0.5 of 5 ms: each call itself blocked for 4.5 ms
  for (let i = 0; i < 20; i++) io.writeAll(fd, [Buffer.from('x')], 0);
  t.true(io.inline, 'twenty calls blocked for 4.5 ms each: 90 ms in a second');
  for (let i = 0; i < 5; i++) io.writeAll(fd, [Buffer.from('x')], 0);
  t.false(io.inline, 'more than 100 ms blocked in a second moves I/O off the event loop');
});

test('the thread\'s CPU wait is read at most every 50 ms, not at every call', async (t) => {
  const { fd } = await scratch(t);
  let clock = 0;
  let reads = 0;
  const io = new InlineIo(() => (clock += 0.05), () => { reads++; return 0; });
  for (let i = 0; i < 1000; i++) io.writeAll(fd, [Buffer.from('x')], 0);
  t.true(io.inline);
  t.true(reads <= 3, `${reads} reads of the CPU wait over 1,000 calls in 100 ms`);
});

test('on Linux the thread\'s wait for a CPU is read from the kernel and only grows', (t) => {
  const wait = threadCpuWait();
  const first = wait();
  let spin = 0;
  for (let i = 0; i < 2e6; i++) spin += i;
  t.true(spin > 0);
  const second = wait();
  t.true(Number.isFinite(first) && first >= 0);
  t.true(second >= first, `${second} ≥ ${first}`);
  if (process.platform === 'linux') t.true(first > 0, 'a thread that has run has waited for a CPU at least once');
});
