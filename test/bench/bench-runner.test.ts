import test from 'ava';
import { main } from '../../bench/run.js';
import { lowerBound, parseSwarmArgs } from '../../bench/swarm.js';
import { Teardown } from '../../bench/support/teardown.js';
import { formatTable } from '../../bench/support/bench-files.js';
import { cpuSeconds, startProcess, waitUntil } from '../../bench/support/processes.js';
import { CpuSampler } from '../../bench/support/cpu-sampler.js';

test.serial('an unknown benchmark exits 2 and lists the known ones', async (t) => {
  const writes: string[] = [];
  const orig = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string) => { writes.push(s); return true; }) as typeof process.stderr.write;
  let code: number;
  try {
    code = await main(['no-such-bench']);
  } finally {
    process.stderr.write = orig;
  }
  t.is(code, 2);
  t.regex(writes.join(''), /unknown benchmark "no-such-bench"/);
  t.regex(writes.join(''), /swarm\|throughput\|memory/);
});

test('swarm refuses a missing or bad argument and says how to call it', (t) => {
  const missing = t.throws(() => parseSwarmArgs(['--hosts', '4', '--size', '64']));
  t.regex(missing!.message, /--rate/);
  t.regex((missing as { fix?: string }).fix ?? '', /npm run bench -- swarm/);
  t.regex(t.throws(() => parseSwarmArgs(['--hosts', '2.5', '--size', '64', '--rate', '100']))!.message, /whole number/);
  t.regex(t.throws(() => parseSwarmArgs(['--hosts', '4', '--size', '64', '--rate', '100', '--modes', 'd7y,ftp']))!.message, /ftp/);
  t.regex(t.throws(() => parseSwarmArgs(['--hosts', '4', '--bogus']))!.message, /bogus/);
});

test('swarm arguments default the origin rate to the link rate and run all three modes', (t) => {
  const a = parseSwarmArgs(['--hosts', '8', '--size', '128', '--rate', '100']);
  t.deepEqual([a.hosts, a.sizeMiB, a.rateMbit, a.originRateMbit, a.modes], [8, 128, 100, 100, ['d7y', 'direct', 'bt']]);
});

test('T* is the largest of the origin, swarm and download bounds', (t) => {
  const s = 100e6;
  t.is(lowerBound(s, 8, 12.5e6, 12.5e6), 8);
  t.is(lowerBound(s, 8, 1e6, 12.5e6), 100);
  t.is(lowerBound(s, 8, 12.5e6, 1e6), 100);
});

test.serial('teardown runs every step newest first, once, even after a failing step', async (t) => {
  const order: string[] = [];
  const td = new Teardown(1_000);
  td.add('a', () => { order.push('a'); });
  td.add('b', () => { throw new Error('boom'); });
  td.add('c', async () => { order.push('c'); });
  const orig = process.stderr.write.bind(process.stderr);
  const errs: string[] = [];
  process.stderr.write = ((s: string) => { errs.push(s); return true; }) as typeof process.stderr.write;
  try {
    await Promise.all([td.run(), td.run()]);
  } finally {
    process.stderr.write = orig;
  }
  t.deepEqual(order, ['c', 'a']);
  t.regex(errs.join(''), /"b" failed: boom/);
});

test('tables are aligned with a rule under the header', (t) => {
  t.is(formatTable(['mode', 's'], [['d7y', 1.5], ['direct', 12]]), '  mode    s\n------  ---\n   d7y  1.5\ndirect   12');
});

test('cpuSeconds counts a process\'s CPU time, and its children\'s when asked', async (t) => {
  const teardown = new Teardown();
  try {
    // bash waits on a node child that burns about 0.3 CPU-seconds, then idles; stopping bash stops it.
    const burn = 'while (process.cpuUsage().user < 300000); setTimeout(() => {}, 30000)';
    const p = startProcess(teardown, 'burner', 'bash', ['-c', `trap 'kill $child' TERM; "${process.execPath}" -e "${burn}" & child=$!; wait`]);
    await waitUntil('the child burned its CPU time', async () => (await cpuSeconds([p.pid], true)) >= 0.25, 60_000, 50);
    t.true((await cpuSeconds([p.pid])) < 0.1, 'bash itself only waits');
    t.true((await cpuSeconds([p.pid], true)) < 2, 'the figure is seconds, not ticks');
    t.is(await cpuSeconds([2 ** 22 + 7]), 0, 'a process that is gone counts 0');
  } finally {
    await teardown.run();
  }
});

test.serial('the CPU sampler charges a process that starts and exits while it runs to its set, and sees the machine busy', async (t) => {
  const teardown = new Teardown();
  try {
    // The idler burns about 0.3 CPU-seconds before the sampler starts, then idles.
    const idle = startProcess(teardown, 'idler', process.execPath, ['-e', 'while (process.cpuUsage().user + process.cpuUsage().system < 300000); setTimeout(() => {}, 30000)']);
    await waitUntil('the idler burned its start', async () => (await cpuSeconds([idle.pid])) >= 0.25, 10_000, 20);
    await new Promise((r) => setTimeout(r, 300));
    const burners: number[] = [];
    const sampler = new CpuSampler({ burner: () => burners, idler: () => [idle.pid] }, 50);
    await sampler.start();
    // About 0.5 CPU-seconds, then it exits: what it used up to its last sample stays counted.
    const burn = startProcess(teardown, 'burner', process.execPath, ['-e', 'while (process.cpuUsage().user + process.cpuUsage().system < 500000);']);
    burners.push(burn.pid);
    t.is(await burn.exited, 0);
    await new Promise((r) => setTimeout(r, 200));
    const report = await sampler.stop();
    t.true(report.seconds.burner! >= 0.3 && report.seconds.burner! <= 1.5, `burner charged ${report.seconds.burner} CPU-seconds`);
    t.true(report.seconds.idler! < 0.1, `what the idler used before the start is not charged (${report.seconds.idler})`);
    t.true(report.cores >= 1);
    t.true(report.busy > 0.1 / report.cores && report.busy <= 1, `busy ${report.busy}`);
    t.true(report.saturated >= 0 && report.saturated <= 1);
  } finally {
    await teardown.run();
  }
});
