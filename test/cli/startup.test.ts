import { execFileSync, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { d7yBin, freePort, repoRoot, tmpDir } from '../support/env.js';
import { runCli, startCli, waitForOutput } from '../support/run-cli.js';
import { daemonV8Flags } from '../../cli/commands/roles.js';

/**
 * A module hook that appends every module URL node resolves to $D7Y_TRACE_FILE: what a process
 * loaded, seen from outside it, with no change to d7y itself.
 */
const HOOKS = `import { appendFileSync } from 'node:fs';
let file;
export function initialize(data) { file = data.file; }
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(file, r.url + '\\n');
  return r;
}
`;
const REGISTER = `import { register } from 'node:module';
register('./hooks.mjs', import.meta.url, { data: { file: process.env.D7Y_TRACE_FILE } });
`;

/** Packages of the manager's database and HTTP stack, gRPC, and the cloud SDKs. */
const HEAVY = ['kysely', 'express', 'better-sqlite3', 'pg', 'ioredis', '@grpc/grpc-js', '@aws-sdk/client-s3', '@google-cloud/storage', 'jstat'];

interface Trace {
  /** NODE_OPTIONS and D7Y_TRACE_FILE for a traced d7y process. */
  env: NodeJS.ProcessEnv;
  /** The packages (by name) and repo files (dist/…) resolved so far. */
  read(): Promise<{ packages: Set<string>; files: Set<string> }>;
}

async function tracer(t: ExecutionContext, dir: string): Promise<Trace> {
  await writeFile(join(dir, 'hooks.mjs'), HOOKS);
  await writeFile(join(dir, 'register.mjs'), REGISTER);
  const file = join(dir, 'trace.txt');
  await writeFile(file, '');
  return {
    env: { NODE_OPTIONS: `--import ${join(dir, 'register.mjs')}`, D7Y_TRACE_FILE: file },
    async read() {
      const packages = new Set<string>();
      const files = new Set<string>();
      for (const url of (await readFile(file, 'utf8')).split('\n')) {
        const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
        if (pkg) packages.add(pkg[1]);
        const own = /\/(dist\/(?:cli|core|plugins|sources)\/[^?]+\.js)$/.exec(url);
        if (own && !pkg) files.add(own[1]);
      }
      t.log(`${packages.size} packages, ${files.size} d7y modules`);
      return { packages, files };
    },
  };
}

function heavyIn(packages: Set<string>): string[] {
  return HEAVY.filter((p) => packages.has(p));
}

function roleModulesIn(files: Set<string>): string[] {
  return [...files].filter((f) => /^dist\/(core\/roles\/(manager|scheduler)\/|core\/roles\/peer\/peer-role\.js|plugins\/)/.test(f));
}

test('d7y --version, --help and get load no role, DI, database, HTTP-server, gRPC or cloud SDK code', async (t) => {
  const dir = await tmpDir(t);
  for (const args of [['--version'], ['--help'], ['get', '--help']]) {
    const trace = await tracer(t, await tmpDir(t));
    const r = await runCli(args, { env: trace.env });
    t.is(r.code, 0, r.stderr);
    const { packages, files } = await trace.read();
    t.true(files.has('dist/cli/commander.js') && files.has('dist/cli/program.js'), `the trace of d7y ${args.join(' ')} saw the CLI load`);
    t.deepEqual(heavyIn(packages), [], `d7y ${args.join(' ')}`);
    t.deepEqual(roleModulesIn(files), [], `d7y ${args.join(' ')}`);
    t.false(packages.has('reflect-metadata') || files.has('dist/core/metadata-polyfill.js'), `d7y ${args.join(' ')} does not load the DI metadata polyfill`);
    t.false(files.has('dist/core/index.js'), `d7y ${args.join(' ')} does not load the SDK barrel`);
  }

  const trace = await tracer(t, dir);
  const socket = join(dir, 'no-daemon.sock');
  const get = await runCli(['get', 'http://127.0.0.1:9/file', '-O', join(dir, 'out'), '--socket', socket, '--daemon'], { env: trace.env });
  t.is(get.code, 1);
  t.is(get.stderr.split('\n')[0], `d7y: no d7y daemon is listening on ${socket}`);
  const { packages, files } = await trace.read();
  t.true(files.has('dist/core/protocol/local-api/local-api-client.js'), 'd7y get talks to the daemon through its client');
  t.deepEqual(heavyIn(packages), []);
  t.false(packages.has('reflect-metadata') || files.has('dist/core/metadata-polyfill.js'), 'd7y get does not load the DI metadata polyfill');
  t.deepEqual(roleModulesIn(files), []);
});

test('an idle d7y peer with the shipped plugins loads no cloud SDK and no manager or scheduler code; an s3:// task loads the AWS SDK', async (t) => {
  const dir = await tmpDir(t);
  const trace = await tracer(t, dir);
  const [sched, upload, rpc, pieceHttp] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const config = join(dir, 'node.yaml');
  await writeFile(config, [
    `dataDir: ${join(dir, 'data')}`,
    `peer: { schedulers: ["127.0.0.1:${sched}"], upload: { port: ${upload} }, rpc: { port: ${rpc} }, pieceHttp: { port: ${pieceHttp} }, proxy: { listen: { port: ${await freePort()} } } }`,
  ].join('\n'));
  const peer = startCli(t, ['peer', '-c', config], { cwd: dir, env: trace.env });
  const banner = await waitForOutput(peer, /d7y: ready: .*\n/, 60_000);
  t.regex(banner, /"schemes":\[[^\]]*"gs"[^\]]*"s3"/, 'the s3 and gcs plugins are registered');
  t.regex(banner, /"crc32":"node-rs"/, 'the SIMD crc32 is loaded at start, before any piece');

  const idle = await trace.read();
  t.true(idle.files.has('dist/core/roles/peer/peer-role.js') && idle.files.has('dist/sources/s3/index.js'), 'the trace saw the peer and its plugins load');
  t.deepEqual(HEAVY.filter((p) => p !== '@grpc/grpc-js' && idle.packages.has(p)), []);
  t.deepEqual([...idle.files].filter((f) => /^dist\/core\/roles\/(manager\/|scheduler\/scheduler-role\.js)/.test(f)), []);
  // Required, not imported: node scans a CommonJS module imported from ESM for its exports first,
  // and the polyfill's 60 KB made V8 compile that scanner with TurboFan at every start.
  t.true(idle.files.has('dist/core/metadata-polyfill.js'), 'the peer loads the DI metadata polyfill');
  t.false(idle.packages.has('reflect-metadata'), 'the peer requires the polyfill instead of importing it through the ES module loader');

  const socket = join(dir, 'data/peer/peer.sock');
  const get = await runCli(['get', 's3://bucket/key', '-O', join(dir, 'out'), '--socket', socket, '--timeout', '30s',
    '--storage-endpoint', 'http://127.0.0.1:9', '--storage-access-key-id', 'id', '--storage-access-key-secret', 'secret']);
  t.is(get.code, 1);
  t.regex(get.stderr, /s3:\/\/bucket\/key failed/);
  t.true((await trace.read()).packages.has('@aws-sdk/client-s3'), 'the first s3:// task loads the AWS SDK');
});

/** Reports node's flags and the young generation's size (after some allocation churn) at exit. */
const HEAP_PROBE = `import v8 from 'node:v8';
import { writeFileSync } from 'node:fs';
process.on('exit', () => {
  let keep = [];
  for (let i = 0; i < 300000; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 20000) keep = []; }
  const young = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  writeFileSync(process.env.D7Y_HEAP_FILE, JSON.stringify({ execArgv: process.execArgv, youngBytes: young.space_size }));
});
`;

test('the d7y bin, run as installed, and npm start give node 1 MiB semi-spaces: the young generation stays at 2 MiB', async (t) => {
  const dir = await tmpDir(t);
  await writeFile(join(dir, 'probe.mjs'), HEAP_PROBE);
  const file = join(dir, 'heap.json');
  const env = { ...process.env, NODE_OPTIONS: `--import ${join(dir, 'probe.mjs')}`, D7Y_HEAP_FILE: file };
  const r = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(d7yBin, ['--version'], { env, stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', resolve);
  });
  t.is(r, 0, 'dist/cli/d7y.js runs as an executable, through its #! line');
  const probe = JSON.parse(await readFile(file, 'utf8')) as { execArgv: string[]; youngBytes: number };
  t.true(probe.execArgv.includes('--max-semi-space-size=1'), probe.execArgv.join(' '));
  t.true(probe.youngBytes <= 2 * 1024 * 1024, `new space ${probe.youngBytes} bytes after churn`);
  const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  t.regex(pkg.scripts.start, /^node --max-semi-space-size=1 dist\/cli\/d7y\.js up$/);
});

test('node keeps its built-in modules\' code cache under the bin\'s flags: those the CLI loads are not compiled from source', async (t) => {
  const stderr = await new Promise<string>((resolve, reject) => {
    const child = spawn(d7yBin, ['--version'], { env: { ...process.env, NODE_DEBUG_NATIVE: 'CODE_CACHE' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => { err += s; });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(err) : reject(new Error(`d7y --version exited ${code}: ${err.slice(-500)}`))));
  });
  const verdicts = new Map([...stderr.matchAll(/Code cache of (\S+) \(\w+\) is (accepted|rejected)/g)].map((m) => [m[1]!, m[2]!]));
  t.true(verdicts.size > 0, 'node reports each built-in module it compiles (NODE_DEBUG_NATIVE=CODE_CACHE)');
  // Loaded by the command line parser and the CLI after the bin's first line ran.
  for (const mod of ['child_process', 'net', 'fs/promises']) t.is(verdicts.get(mod), 'accepted', `node:${mod}`);
});

test('a daemon\'s first downloads from an origin leave undici\'s HTTP parser with WebAssembly\'s baseline compiler (no TurboFan compile of it)', async (t) => {
  const dir = await tmpDir(t);
  const body = Buffer.alloc(1024 * 1024, 7);
  const origin = createServer((req, res) => {
    res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => origin.close(() => resolve())));
  const port = (origin.address() as AddressInfo).port;
  const config = join(dir, 'node.yaml');
  await writeFile(config, [
    `dataDir: ${join(dir, 'data')}`,
    `peer: { upload: { port: ${await freePort()} }, rpc: { port: ${await freePort()} }, pieceHttp: { port: ${await freePort()} }, proxy: { listen: { port: ${await freePort()} } } }`,
  ].join('\n'));
  // V8 prints one line per WebAssembly function it compiles, naming the compiler.
  const peer = startCli(t, ['peer', '-c', config], { cwd: dir, nodeArgs: ['--trace-wasm-compilation-times'] });
  let out = '';
  let err = '';
  peer.stdout!.setEncoding('utf8').on('data', (s: string) => { out += s; });
  peer.stderr!.on('data', (b: Buffer) => { err += b.toString('utf8'); });
  await waitForOutput(peer, /d7y: ready: /, 60_000);
  const socket = join(dir, 'data/peer/peer.sock');
  for (let i = 0; i < 4; i += 1) {
    const get = await runCli(['get', `http://127.0.0.1:${port}/file-${i}`, '-O', join(dir, `out-${i}`), '--socket', socket, '--timeout', '30s']);
    t.is(get.code, 0, get.stderr);
  }
  await new Promise((resolve) => setTimeout(resolve, 1000));
  t.regex(out, /Compiled function .* using Liftoff/, 'the parser was compiled (the trace works)');
  t.notRegex(out, /using TurboFan/, 'no WebAssembly function was recompiled with TurboFan');
  t.notRegex(err, /unrecognized flag/, 'every V8 flag the daemon sets exists in this V8');
});

test('daemons raise V8\'s interrupt budget where V8 has one (Node 20), only peers that are not seeds the WebAssembly tier-up budget, and a process with a seed the heap\'s growing factor', (t) => {
  type Spec = Parameters<typeof daemonV8Flags>[0][number];
  const spec = (role: 'peer' | 'scheduler', seed = false): Spec => ({ role, config: { peer: { seed } } }) as Spec;
  const v8Of20 = '11.3.244.8-node.33';
  const v8Of22 = '12.4.254.21-node.33';
  t.deepEqual(daemonV8Flags([spec('peer')], v8Of20), ['--interrupt-budget=270336', '--wasm-tiering-budget=90000000']);
  t.deepEqual(daemonV8Flags([spec('peer', true)], v8Of20), ['--interrupt-budget=270336', '--heap-growing-percent=100']);
  t.deepEqual(daemonV8Flags([spec('scheduler'), spec('peer')], v8Of20), ['--interrupt-budget=270336']);
  t.deepEqual(daemonV8Flags([spec('scheduler'), spec('peer', true), spec('peer')], v8Of22), ['--heap-growing-percent=100']);
  t.deepEqual(daemonV8Flags([spec('peer')], v8Of22), ['--wasm-tiering-budget=90000000']);
  t.deepEqual(daemonV8Flags([spec('scheduler')], v8Of22), []);
  // Every flag chosen for the V8 that runs exists in it: an unknown one prints "unrecognized flag" at every daemon start.
  const known = execFileSync(process.execPath, ['--v8-options'], { encoding: 'utf8' });
  for (const flag of [...daemonV8Flags([spec('peer')]), ...daemonV8Flags([spec('peer', true)])]) t.regex(known, new RegExp(`^\\s+${flag.split('=')[0]} `, 'm'), flag);
});
