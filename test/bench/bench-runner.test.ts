import test from 'ava';
import { main } from '../../bench/run.js';
import { lowerBound, parseSwarmArgs } from '../../bench/swarm.js';
import { Teardown } from '../../bench/support/teardown.js';
import { formatTable } from '../../bench/support/bench-files.js';
import { anonymousRssBytes, cpuSeconds, startProcess, waitUntil } from '../../bench/support/processes.js';
import { CpuSampler } from '../../bench/support/cpu-sampler.js';
import { parseTtfbArgs } from '../../bench/proxy-ttfb.js';
import { parseProxyThroughputArgs } from '../../bench/proxy-throughput.js';
import { flatness, parseSoakArgs } from '../../bench/soak.js';
import { median, percentile } from '../../bench/support/stats.js';
import { nowMs, TimingOrigin } from '../../bench/support/timing-origin.js';

/** Runs `fn` with stderr captured; its result and what it wrote. */
async function withStderr<T>(fn: () => Promise<T>): Promise<{ result: T; writes: string[] }> {
  const writes: string[] = [];
  const orig = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string) => { writes.push(s); return true; }) as typeof process.stderr.write;
  try {
    return { result: await fn(), writes };
  } finally {
    process.stderr.write = orig;
  }
}

test.serial('an unknown benchmark exits 2 and lists the known ones', async (t) => {
  const { result: code, writes } = await withStderr(() => main(['no-such-bench']));
  t.is(code, 2);
  t.regex(writes.join(''), /unknown benchmark "no-such-bench"/);
  t.regex(writes.join(''), /<swarm\|throughput\|.*\|memory\|/);
});

test('swarm refuses a missing or bad argument and says how to call it', (t) => {
  const missing = t.throws(() => parseSwarmArgs(['--hosts', '4', '--size', '64']));
  t.regex(missing!.message, /--rate/);
  t.regex((missing as { fix?: string }).fix ?? '', /npm run bench -- swarm/);
  t.regex(t.throws(() => parseSwarmArgs(['--hosts', '2.5', '--size', '64', '--rate', '100']))!.message, /whole number/);
  t.regex(t.throws(() => parseSwarmArgs(['--hosts', '4', '--size', '64', '--rate', '100', '--modes', 'd7y,ftp']))!.message, /ftp/);
  t.regex(t.throws(() => parseSwarmArgs(['--hosts', '4', '--bogus']))!.message, /bogus/);
  t.regex(t.throws(() => parseSwarmArgs(['--hosts', '4', '--size', '64', '--rate', '100', '--warm-size', '0']))!.message, /--warm-size 0 is not a positive number/);
  // An unknown mode's error lists every mode, both node-relay floors included.
  t.regex((t.throws(() => parseSwarmArgs(['--hosts', '4', '--size', '64', '--rate', '100', '--modes', 'ftp'])) as { fix?: string }).fix ?? '', /choose from .*bt.*d7y-api-warm.*curl-proxy-warm.*node-relay.*node-relay-native/);
  t.deepEqual(parseSwarmArgs(['--hosts', '4', '--size', '64', '--rate', '100', '--modes', 'node-relay-native,node-relay,d7y,bt']).modes, ['node-relay-native', 'node-relay', 'd7y', 'bt']);
});

test('swarm warms the d7y-warm daemons with a 16 MiB file unless --warm-size says otherwise', (t) => {
  t.is(parseSwarmArgs(['--hosts', '8', '--size', '64', '--rate', '100']).warmSizeMiB, 16);
  t.is(parseSwarmArgs(['--hosts', '8', '--size', '64', '--rate', '100', '--warm-size', '64']).warmSizeMiB, 64);
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

test.serial('the CPU sampler reports the memory a set holds at its peak, and the machine\'s', async (t) => {
  const teardown = new Teardown();
  try {
    // The holder fills 96 MiB of its own memory, then idles; the idler holds only node's own.
    const holder = startProcess(teardown, 'holder', process.execPath, ['-e', 'globalThis.b = Buffer.alloc(96 * 2 ** 20, 1); console.log("held"); setTimeout(() => {}, 30000)']);
    const idle = startProcess(teardown, 'idler', process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    await waitUntil('the holder filled its buffer', async () => (await anonymousRssBytes(holder.pid)) >= 96 * 2 ** 20, 10_000, 20);
    const sampler = new CpuSampler({ holder: () => [holder.pid], idler: () => [idle.pid] }, 50);
    await sampler.start();
    await new Promise((r) => setTimeout(r, 300));
    const report = await sampler.stop();
    t.true(report.anonymousPeakMiB.holder! >= 96 && report.anonymousPeakMiB.holder! < 200, `holder ${report.anonymousPeakMiB.holder} MiB`);
    t.true(report.anonymousPeakMiB.idler! > 0 && report.anonymousPeakMiB.idler! < report.anonymousPeakMiB.holder! - 80, `idler ${report.anonymousPeakMiB.idler} MiB`);
    t.true(report.machineMemoryPeakMiB > report.anonymousPeakMiB.holder! + report.anonymousPeakMiB.idler!, `machine ${report.machineMemoryPeakMiB} MiB`);
  } finally {
    await teardown.run();
  }
});

test('proxy-ttfb and proxy-throughput refuse a bad argument and say how to call them; swarm knows the curl-proxy mode', (t) => {
  const bad = t.throws(() => parseTtfbArgs(['--requests', '0']));
  t.regex(bad!.message, /--requests 0/);
  t.regex((bad as { fix?: string }).fix ?? '', /npm run bench -- proxy-ttfb/);
  t.deepEqual(parseTtfbArgs([]), { requests: 50, sizeMiB: 8, out: undefined, keep: false });
  t.regex(t.throws(() => parseProxyThroughputArgs(['--runs', '30']))!.message, /--runs 30/);
  t.is(parseProxyThroughputArgs(['--size', '64']).sizeMiB, 64);
  t.deepEqual(parseSwarmArgs(['--hosts', '2', '--size', '8', '--rate', '100', '--modes', 'd7y,curl-proxy']).modes, ['d7y', 'curl-proxy']);
});

test('percentiles are nearest-rank and medians average the middle pair', (t) => {
  const xs = Array.from({ length: 100 }, (_, i) => 100 - i);
  t.is(percentile(xs, 0.5), 50);
  t.is(percentile(xs, 0.99), 99);
  t.is(percentile([], 0.5), 0);
  t.is(median([4, 1, 3, 2]), 2.5);
});

test.serial('the timing origin serves whole bodies, ranges and HEAD, and records the first body byte of each path', async (t) => {
  const teardown = new Teardown();
  try {
    const body = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
    const origin = await TimingOrigin.start(teardown, body);
    const before = nowMs();
    const whole = await fetch(origin.url('/a.bin'));
    t.deepEqual(Buffer.from(await whole.arrayBuffer()), body);
    const part = await fetch(origin.url('/a.bin'), { headers: { range: 'bytes=10-19' } });
    t.is(part.status, 206);
    t.is(part.headers.get('content-range'), 'bytes 10-19/1000');
    t.deepEqual(Buffer.from(await part.arrayBuffer()), body.subarray(10, 20));
    const head = await fetch(origin.url('/b.bin'), { method: 'HEAD' });
    t.is(head.headers.get('content-length'), '1000');
    t.is(head.headers.get('accept-ranges'), 'bytes');
    await origin.settled();
    t.deepEqual(origin.requests.get('/a.bin')!.map((r) => [r.method, r.range]), [['GET', undefined], ['GET', 'bytes=10-19']]);
    const first = origin.firstGet('/a.bin')!;
    t.true(first.firstByte! >= before && first.firstByte! <= nowMs(), 'on the same clock as the benchmark');
    t.is(origin.firstGet('/b.bin'), undefined, 'a HEAD sends no body');
  } finally {
    await teardown.run();
  }
});

test('soak refuses bad arguments with the command line to use, and defaults to 2,000 downloads over 30 minutes, 20 at a time', (t) => {
  const bad = t.throws(() => parseSoakArgs(['--concurrency', '0']));
  t.regex(bad!.message, /--concurrency 0/);
  t.regex((bad as { fix?: string }).fix ?? '', /npm run bench -- soak/);
  t.regex(t.throws(() => parseSoakArgs(['--minutes', 'soon']))!.message, /--minutes soon/);
  t.regex(t.throws(() => parseSoakArgs(['--bogus']))!.message, /bogus/);
  const a = parseSoakArgs([]);
  t.deepEqual([a.minutes, a.downloads, a.concurrency, a.maxSizeMiB], [30, 2000, 20, 256]);
});

test('soak flatness compares the last tenth of the samples after warm-up with the first tenth', (t) => {
  const series = (rss: (i: number) => number, fds: (i: number) => number) => Array.from({ length: 100 }, (_, i) => ({ t: i, rss: rss(i), fds: fds(i) }));
  // A warm-up climb in the first fifth does not count; a flat plateau after it is flat.
  const flat = flatness(series((i) => (i < 20 ? 50 + i * 3 : 120) * 2 ** 20, () => 40))!;
  t.is(flat.rssRatio, 1);
  t.is(flat.fdRatio, 1);
  // Growth of a tenth of a MiB per sample after warm-up is seen: 1.08× RSS, and leaking descriptors.
  const grows = flatness(series((i) => (100 + i / 10) * 2 ** 20, (i) => 40 + i))!;
  t.true(grows.rssRatio > 1.05 && grows.rssRatio < 1.1, String(grows.rssRatio));
  t.true(grows.fdRatio > 1.5, String(grows.fdRatio));
  t.is(flatness(series(() => 1, () => 1).slice(0, 5)), undefined, 'too few samples give no verdict');
});

test.serial('vortex-receive refuses a size below one piece or a bad flag, exiting 2 with the command line to use', async (t) => {
  const { result: codes, writes } = await withStderr(async () => [await main(['vortex-receive', '--size', '10']), await main(['vortex-receive', '--nope'])]);
  t.deepEqual(codes, [2, 2]);
  t.regex(writes[0]!, /--size 10 is less than one 64 MiB piece/);
  t.regex(writes.join(''), /fix: .*npm run bench -- vortex-receive/);
  t.is(writes.join('').match(/^fix: /gm)?.length, 2, 'each refusal says how to call it');
});

test('the page-cache probe gives the CPU of writing new pages per GiB and leaves no file behind', async (t) => {
  const { mkdtemp, readdir, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { pageCacheWriteCost } = await import('../../bench/support/page-cache-cost.js');
  const dir = await mkdtemp(join(tmpdir(), 'd7y-page-cache-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const cost = pageCacheWriteCost(dir, 8);
  t.true(Number.isFinite(cost) && cost > 0, `${cost} CPU-s per GiB`);
  t.deepEqual(await readdir(dir), [], 'the probe file is removed');
});

test('the swarm record says how the machine gives memory back to its host, read from sysfs', async (t) => {
  const { mkdtemp, mkdir, rm, writeFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { describeMemoryReclaim, memoryReclaim, reportedKiB } = await import('../../bench/support/memory-reclaim.js');
  const sys = await mkdtemp(join(tmpdir(), 'd7y-sysfs-'));
  t.teardown(() => rm(sys, { recursive: true, force: true }));
  // A machine with neither feature: nothing to say.
  t.deepEqual(memoryReclaim(sys), { freePageReportingOrder: null, damonPageoutSchemes: 0 });
  t.is(reportedKiB(sys), undefined);
  t.is(describeMemoryReclaim(memoryReclaim(sys)), undefined);
  const params = join(sys, 'module/page_reporting/parameters');
  await mkdir(params, { recursive: true });
  await writeFile(join(params, 'page_reporting_order'), '9\n');
  await writeFile(join(params, 'reported_kib'), '52469032\n');
  const scheme = async (k: number, state: string, action: string): Promise<void> => {
    const dir = join(sys, `kernel/mm/damon/admin/kdamonds/${k}`);
    await mkdir(join(dir, 'contexts/0/schemes/0'), { recursive: true });
    await writeFile(join(dir, 'state'), `${state}\n`);
    await writeFile(join(dir, 'contexts/0/schemes/0/action'), `${action}\n`);
  };
  await scheme(0, 'on', 'pageout');
  await scheme(1, 'off', 'pageout');
  await scheme(2, 'on', 'stat');
  const m = memoryReclaim(sys);
  t.deepEqual(m, { freePageReportingOrder: 9, damonPageoutSchemes: 1 }, 'only a running kdamond with a pageout scheme counts');
  t.is(reportedKiB(sys), 52469032);
  t.regex(describeMemoryReclaim(m) ?? '', /reports free blocks of 2048 KiB \(4 KiB pages\) to its host .* pages out memory left cold \(DAMON\)/);
});

test('a mode\'s CPU per GiB splits into user space and kernel, the origin server left out', async (t) => {
  const { userKernelPerGiB } = await import('../../bench/swarm.js');
  const cpu = {
    cores: 2, busy: 0.5, saturated: 0,
    seconds: { 'peer daemons': 4, scheduler: 1, 'origin (nginx)': 3 },
    systemSeconds: { 'peer daemons': 2, scheduler: 0.5, 'origin (nginx)': 3 },
    secondsPerGiB: { 'peer daemons': 8, scheduler: 2, 'origin (nginx)': 6, total: 10 },
  };
  const [user, kernel] = userKernelPerGiB(cpu);
  t.is(user, 5, '2.5 user-seconds over half a GiB');
  t.is(kernel, 5);
});
