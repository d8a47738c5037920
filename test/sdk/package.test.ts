import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { repoRoot } from '../support/env.js';
import { startOriginServer } from '../support/origin-server.js';

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (killed after timeoutMs); never rejects on a non-zero exit. */
function run(cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<RunResult> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|D7Y_)/i.test(k)));
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr: err && !stderr ? String(err) : stderr });
    });
  });
}

const npmFlags = ['--ignore-scripts', '--no-audit', '--no-fund', '--no-update-notifier', '--loglevel=error'];

interface Installed {
  /** The consumer project, with d7y installed from the tarball. */
  dir: string;
  tarballBytes: number;
  files: string[];
  packMs: number;
  installMs: number;
  installMode: string;
}

let work: string;
let installed: Promise<Installed>;

/**
 * `npm pack` of the built tree, then `npm install <tarball>` into a fresh project: from the npm cache
 * alone when it holds every package's metadata, else with the registry for what the cache lacks.
 * Install scripts are skipped (better-sqlite3 would compile for a minute; only the manager uses it).
 */
async function packAndInstall(): Promise<Installed> {
  let started = Date.now();
  const pack = await run('npm', ['pack', '--json', '--pack-destination', work, ...npmFlags], repoRoot, 60_000);
  if (pack.code !== 0) throw new Error(`npm pack failed: ${pack.stderr}`);
  const [info] = JSON.parse(pack.stdout) as { filename: string; size: number; files: { path: string }[] }[];
  const packMs = Date.now() - started;
  const dir = join(work, 'consumer');
  await mkdir(dir);
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'd7y-consumer', version: '1.0.0', private: true, type: 'module' }));
  const tarball = join(work, info.filename);
  started = Date.now();
  let installMode = 'offline';
  let install = await run('npm', ['install', tarball, '--offline', ...npmFlags], dir, 120_000);
  if (install.code !== 0 && /ENOTCACHED/.test(install.stderr)) {
    installMode = 'prefer-offline';
    install = await run('npm', ['install', tarball, '--prefer-offline', ...npmFlags], dir, 120_000);
  }
  if (install.code !== 0) throw new Error(`npm install ${tarball} (${installMode}) failed: ${install.stderr}`);
  return { dir, tarballBytes: info.size, files: info.files.map((f) => f.path), packMs, installMs: Date.now() - started, installMode };
}

test.before(async () => {
  work = await mkdtemp(join(tmpdir(), 'd7y-package-'));
  installed = packAndInstall();
  installed.catch(() => undefined);
});

test.after.always(async () => {
  await installed?.catch(() => undefined);
  if (work) await rm(work, { recursive: true, force: true });
});

test('the tarball holds the built SDK, core, host, plugins, CLI and plugins.json, and no tests or benchmarks', async (t) => {
  const pkg = await installed;
  t.log(`tarball ${pkg.tarballBytes} bytes, ${pkg.files.length} files; npm pack ${pkg.packMs} ms, npm install (${pkg.installMode}) ${pkg.installMs} ms`);
  for (const f of ['dist/sdk/index.js', 'dist/sdk/index.d.ts', 'dist/sdk/plugin.js', 'dist/sdk/plugin.d.ts', 'dist/core/index.js',
    'dist/plugins/index.js', 'dist/sources/http/index.js', 'dist/schedulers/default/index.js', 'dist/storage/disk/index.js',
    'dist/cli/d7y.js', 'plugins.json', 'package.json']) {
    t.true(pkg.files.includes(f), `${f} is in the tarball`);
  }
  t.deepEqual(pkg.files.filter((f) => /^dist\/(test|bench)\//.test(f) || /\.test\.[a-z.]+$/.test(f)), []);
});

const IMPORTS = `
import { D7yClient, D7yError } from 'd7y';
import { definePlugin, sourceClientContract, evaluatorContract, storageMediumContract } from 'd7y/plugin';

const plugin = definePlugin({
  manifest: { name: 'x', version: '1.0.0', kind: 'source', apiVersion: '1', roles: ['peer'], provides: ['source:x'] },
  register() {},
});
const err = new D7yError('D7Y_TIMEOUT', 'too slow', { fix: 'wait' });
const deep = await import('d7y/dist/core/index.js').then(() => 'imported', (e) => e.code);
console.log(JSON.stringify({
  connect: typeof D7yClient.connect, embedded: typeof D7yClient.embedded, error: [err.code, err.fix],
  plugin: plugin.manifest.name, suites: [typeof sourceClientContract, typeof evaluatorContract, typeof storageMediumContract], deep,
}));
`;

test('plain JavaScript imports d7y and d7y/plugin from the installed package; a deep import is refused by exports', async (t) => {
  const { dir } = await installed;
  await writeFile(join(dir, 'imports.mjs'), IMPORTS);
  const r = await run(process.execPath, ['imports.mjs'], dir, 30_000);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(JSON.parse(r.stdout), {
    connect: 'function', embedded: 'function', error: ['D7Y_TIMEOUT', 'wait'],
    plugin: 'x', suites: ['function', 'function', 'function'], deep: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
  });
});

const GOOD_TS = `
import { Writable } from 'node:stream';
import { D7yClient, D7yError, isD7yError, type DownloadResult } from 'd7y';
import { definePlugin, type Evaluator, type SourceClient } from 'd7y/plugin';

export async function fetchTo(path: string): Promise<number> {
  const client: D7yClient = await D7yClient.embedded({ config: { dataDir: '/tmp/d7y' } });
  try {
    const result: DownloadResult = await client.download('http://127.0.0.1:1/x', { output: path, range: '0-9', onProgress: (p) => p.bytes });
    await client.download('http://127.0.0.1:1/x', { stream: new Writable({ write: (_c, _e, cb) => cb() }) });
    const held: Record<string, unknown> = await client.stat(result.taskId);
    await client.delete(String(held.taskId));
    return result.bytes;
  } catch (err) {
    if (isD7yError(err, 'D7Y_TASK_NOT_FOUND')) return 0;
    throw new D7yError('D7Y_INTERNAL', 'failed', { fix: err instanceof D7yError ? err.fix : undefined, cause: err });
  } finally {
    await client.close();
  }
}

const source: SourceClient = {
  schemes: ['x'],
  stat: async (req) => ({ url: req.url, supportsRange: false }),
  download: async () => { throw new D7yError('D7Y_SOURCE_NOT_FOUND', 'no such object'); },
};
const first: Evaluator = { name: 'first', rank: (c) => [...c], isBadParent: () => false };
export default definePlugin<{ region: string }>({
  manifest: { name: 'x', version: '1.0.0', kind: 'source', apiVersion: '1', roles: ['peer'], provides: ['source:x'] },
  parseConfig: (raw) => ({ region: String(raw) }),
  register(ctx) {
    ctx.sources.add(source);
    ctx.logger.info({ region: ctx.config.region, evaluator: first.name }, 'registered');
  },
});
`;

const BAD_TS = `
import { D7yClient, D7yError } from 'd7y';
import { definePlugin } from 'd7y/plugin';

const client = await D7yClient.connect();
await client.download(42, { output: '/tmp/x' });
export const e = new D7yError('D7Y_NO_SUCH_CODE', 'x');
export default definePlugin({ manifest: { name: 'x', version: '1', kind: 'transport', apiVersion: '1', roles: ['peer'], provides: [] }, register() {} });
`;

test('a strict NodeNext TypeScript consumer (with @types/node, and ava for the contract suites) type-checks against the shipped declarations, and tsc reports its type errors', async (t) => {
  const { dir } = await installed;
  const ts = join(dir, 'ts');
  await mkdir(ts);
  await writeFile(join(ts, 'good.ts'), GOOD_TS);
  await writeFile(join(ts, 'bad.ts'), BAD_TS);
  await symlink(join(repoRoot, 'node_modules/ava'), join(dir, 'node_modules/ava'), 'dir');
  await writeFile(join(ts, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: false,
      typeRoots: [join(repoRoot, 'node_modules/@types')], types: ['node'],
    },
    files: ['good.ts', 'bad.ts'],
  }));
  const r = await run(join(repoRoot, 'node_modules/.bin/tsc'), ['--project', join(ts, 'tsconfig.json'), '--pretty', 'false'], ts, 60_000);
  const errors = r.stdout.split('\n').filter((l) => /error TS\d+/.test(l));
  t.not(r.code, 0);
  t.deepEqual(errors.filter((l) => !l.startsWith('bad.ts(')), [], 'good.ts and the shipped declarations have no error');
  t.is(errors.length, 3, r.stdout);
  t.regex(errors[0], /^bad\.ts\(6,\d+\): error TS2345: Argument of type 'number' is not assignable to parameter of type 'string'/);
  t.regex(errors[1], /^bad\.ts\(7,\d+\): error TS2345: Argument of type '"D7Y_NO_SUCH_CODE"' is not assignable to parameter of type 'D7yErrorCode'/);
  t.regex(errors[2], /^bad\.ts\(8,\d+\): error TS2322: Type '"transport"' is not assignable to type '"\w+" \| "\w+" \| "\w+"'/);
});

const EMBEDDED = `
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { D7yClient, D7yError } from 'd7y';

const [url, dataDir, output] = process.argv.slice(2);
const client = await D7yClient.embedded({ config: { dataDir } });
try {
  const toFile = await client.download(url, { output });
  const hash = createHash('sha256');
  const toStream = await client.download(url, { stream: new Writable({ write(chunk, _enc, cb) { hash.update(chunk); cb(); } }) });
  const held = await client.stat(toFile.taskId);
  const listed = (await client.list()).map((task) => task.taskId);
  await client.delete(toFile.taskId);
  const afterDelete = await client.stat(toFile.taskId).then(() => 'still held', (err) => err instanceof D7yError ? { code: err.code, fix: err.fix } : String(err));
  console.log(JSON.stringify({
    toFile, toStream, streamSha256: hash.digest('hex'), listed, afterDelete,
    held: { taskId: held.taskId, finished: held.finished, contentLength: held.contentLength, heldPieces: held.heldPieces, pieceCount: held.pieceCount },
  }));
} finally {
  await client.close();
}
`;

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

test('the installed package downloads through an embedded peer with its own plugins.json: to a file and to a stream, then stat, list and delete', async (t) => {
  const { dir } = await installed;
  const body = randomBytes(9 * 1024 * 1024 + 123);
  const origin = await startOriginServer(t, { files: { '/model.bin': body } });
  const url = `${origin.baseUrl}/model.bin`;
  await writeFile(join(dir, 'embedded.mjs'), EMBEDDED);
  const dataDir = join(dir, 'data');
  const output = join(dir, 'model.bin');
  t.false(existsSync(join(dir, 'plugins.json')), 'no plugins.json beside the consumer');

  const r = await run(process.execPath, ['embedded.mjs', url, dataDir, output], dir, 60_000);
  t.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  t.is(sha256(await readFile(output)), sha256(body), 'the file holds the origin\'s bytes');
  t.is(out.toFile.bytes, body.length);
  t.is(out.streamSha256, sha256(body), 'the stream got the origin\'s bytes');
  t.is(out.toStream.bytes, body.length);
  t.is(out.toStream.taskId, out.toFile.taskId);
  t.deepEqual(out.held, { taskId: out.toFile.taskId, finished: true, contentLength: body.length, heldPieces: 3, pieceCount: 3 });
  t.deepEqual(out.listed, [out.toFile.taskId]);
  t.is(out.afterDelete.code, 'D7Y_TASK_NOT_FOUND');
  t.is(origin.served.bytes, body.length, 'the origin served each byte once: the stream came from the peer');

  const shipped = join(dir, 'node_modules/d7y/plugins.json');
  await rename(shipped, `${shipped}.off`);
  t.teardown(() => rename(`${shipped}.off`, shipped));
  const missing = await run(process.execPath, ['embedded.mjs', url, join(dir, 'data2'), join(dir, 'model2.bin')], dir, 60_000);
  t.not(missing.code, 0);
  t.regex(missing.stderr, new RegExp(`cannot read plugins file ${shipped.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ENOENT`), 'the embedded peer reads the plugins.json of the installed package');
});
