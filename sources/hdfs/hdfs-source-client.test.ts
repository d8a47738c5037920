import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32 } from 'node:zlib';
import test from 'ava';
import { pino } from 'pino';
import { isD7yError } from '../../core/index.js';
import { sourceClientContract } from '../../core/testing/source-client-contract.js';
import { FakeWebHdfsServer } from '../../test/fakes/fake-webhdfs-server.js';
import { patternStream, rssSampler } from '../../test/fakes/pattern-stream.js';
import { HdfsSourceClient } from './hdfs-source-client.js';
import plugin from './index.js';

const MiB = 1024 * 1024;
const TOKEN = 'delegation-token-secret-abc123';
let root: string;
let server: FakeWebHdfsServer;
let client: HdfsSourceClient;

test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'd7y-fake-hdfs-'));
  server = new FakeWebHdfsServer({ root, users: ['d7y'], delegationToken: TOKEN, forbiddenPrefix: '/locked' });
  await server.start();
  client = new HdfsSourceClient({ user: 'd7y' });
});

test.after.always(async () => {
  await client?.close();
  await server?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

const url = (key: string) => `hdfs://${server.authority}/data/${key}`;
const seed = async (key: string, bytes: Buffer) => {
  const file = server.localPath(`/data/${key}`);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, bytes);
};

sourceClientContract(test, {
  name: 'hdfs (fake WebHDFS)',
  features: { list: true, put: true, auth: true },
  async setup() {
    return {
      client, urlOf: url, missingUrl: url('contract/missing.bin'), seed, listUrl: url, supportsPut: true,
      unauthorizedUrl: `hdfs://${server.authority}/locked/secret.bin`,
    };
  },
});

test('OPEN follows the 307 to the datanode with offset and length', async (t) => {
  const bytes = randomBytes(10_000);
  await seed('redirect/file.bin', bytes);
  const before = server.requests.length;
  const dl = await client.download({ url: url('redirect/file.bin'), range: { start: 1234, length: 4321 } });
  t.is(dl.contentLength, 4321);
  t.deepEqual(Buffer.concat(await dl.stream.toArray()), bytes.subarray(1234, 1234 + 4321));
  const calls = server.requests.slice(before).filter((r) => r.includes('redirect/file.bin'));
  t.regex(calls[0]!, /^namenode GET .*op=OPEN.*offset=1234.*length=4321.*user\.name=d7y/);
  t.regex(calls[1]!, /^datanode GET .*op=OPEN.*offset=1234.*length=4321/);
});

test('a delegation token is used instead of user.name; a wrong one is D7Y_SOURCE_AUTH and never shown or logged', async (t) => {
  await seed('token/file.bin', Buffer.from('0123456789'));
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  const logged = new HdfsSourceClient({}, pino({ level: 'trace' }, sink));
  t.teardown(() => logged.close());
  const dl = await logged.download({ url: url('token/file.bin'), hdfs: { delegationToken: TOKEN }, range: { start: 2, length: 3 } });
  t.is(Buffer.concat(await dl.stream.toArray()).toString(), '234');
  const wrong = 'wrong-token-zzz999';
  for (const call of [
    () => logged.stat({ url: url('token/file.bin'), hdfs: { delegationToken: wrong } }),
    () => logged.download({ url: url('token/file.bin'), hdfs: { delegationToken: wrong } }),
    () => logged.put({ url: url('token/new.bin'), hdfs: { delegationToken: wrong } }, Readable.from([Buffer.alloc(3)])),
  ]) {
    const err = await t.throwsAsync(call());
    t.true(isD7yError(err, 'D7Y_SOURCE_AUTH'), err?.message);
    t.regex(err!.message, /hdfs:\/\/127\.0\.0\.1:\d+\/data\/token\/.*InvalidToken \(HTTP 403\)/);
    t.false(err!.message.includes(wrong));
  }
  const nobody = await t.throwsAsync(logged.stat({ url: url('token/file.bin'), hdfs: { user: 'mallory' } }));
  t.true(isD7yError(nobody, 'D7Y_SOURCE_AUTH'), nobody?.message);
  t.regex(nobody!.message, /SecurityException \(HTTP 401\)/);
  t.true(lines.length > 0);
  t.false(lines.join('').includes(TOKEN));
  t.false(lines.join('').includes(wrong));
});

test('a missing file and a missing directory are D7Y_SOURCE_NOT_FOUND (FileNotFoundException)', async (t) => {
  const f = await t.throwsAsync(client.stat({ url: url('nope/none.bin') }));
  t.true(isD7yError(f, 'D7Y_SOURCE_NOT_FOUND'));
  t.regex(f!.message, /hdfs:\/\/.*\/data\/nope\/none\.bin.*FileNotFoundException \(HTTP 404\)/);
  const l = await t.throwsAsync(async () => { for await (const _ of client.list({ url: url('no-such-dir/') })) { /* none */ } });
  t.true(isD7yError(l, 'D7Y_SOURCE_NOT_FOUND'), l?.message);
  const d = await t.throwsAsync(client.stat({ url: `hdfs://${server.authority}/data` }));
  t.true(isD7yError(d, 'D7Y_INVALID_ARGUMENT'), d?.message);
});

test('a directory tree with 1,000 files is listed completely by walking, and one level as directories', async (t) => {
  const keys = Array.from({ length: 1000 }, (_, i) => `many/d${i % 4}/sub${i % 3}/f-${String(i).padStart(4, '0')}.bin`);
  for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k, j) => seed(k, Buffer.alloc((i + j) % 50, 3))));
  const seen = new Map<string, number | undefined>();
  for await (const e of client.list({ url: url('many'), recursive: true })) {
    t.false(e.isDirectory);
    seen.set(e.path, e.contentLength);
  }
  t.is(seen.size, 1000);
  keys.forEach((k, i) => t.is(seen.get(k.slice('many/'.length)), i % 50, k));
  const top = [];
  for await (const e of client.list({ url: url('many/') })) top.push(`${e.path}:${e.isDirectory}`);
  t.deepEqual(top.sort(), ['d0:true', 'd1:true', 'd2:true', 'd3:true']);
});

test('CREATE streams a large body through the datanode redirect byte-exact', async (t) => {
  const size = 20 * MiB + 3;
  const gen = patternStream(size);
  await client.put({ url: url('put/big.bin') }, gen.stream);
  const dl = await client.download({ url: url('put/big.bin') });
  t.is(dl.contentLength, size);
  let crc = 0;
  for await (const chunk of dl.stream) crc = crc32(chunk as Buffer, crc);
  t.is(crc, await gen.crc32);
  t.true(server.requests.some((r) => r.startsWith('datanode PUT') && r.includes('put/big.bin')));
});

test('a 1 GiB file reads back byte-exact in 64 MiB pieces with flat RSS', async (t) => {
  t.timeout(100_000);
  const size = 1024 * MiB;
  const gen = patternStream(size);
  const file = server.localPath('/data/big/1g.bin');
  await mkdir(dirname(file), { recursive: true });
  await pipeline(gen.stream, createWriteStream(file));
  const expected = await gen.crc32;
  t.is((await client.stat({ url: url('big/1g.bin') })).contentLength, size);
  let crc = 0;
  const piece = 64 * MiB;
  const rss = rssSampler();
  const started = Date.now();
  for (let start = 0; start < size; start += piece) {
    const dl = await client.download({ url: url('big/1g.bin'), range: { start, length: piece } });
    t.is(dl.contentLength, piece);
    for await (const chunk of dl.stream) crc = crc32(chunk as Buffer, crc);
  }
  const ms = Date.now() - started;
  const grewMiB = (rss.stop() - rss.baseline) / MiB;
  t.is(crc, expected);
  t.log(`ranged OPEN ${(size / MiB / (ms / 1000)).toFixed(0)} MiB/s, RSS +${grewMiB.toFixed(0)} MiB`);
  t.true(grewMiB < 200, `RSS grew by ${grewMiB.toFixed(0)} MiB while reading 1 GiB`);
});

test('the plugin refuses unknown config keys and registers the hdfs scheme', async (t) => {
  t.throws(() => plugin.parseConfig!({ user: 'd7y', bogus: true }));
  t.throws(() => plugin.parseConfig!({ protocol: 'ftp' }));
  const config = plugin.parseConfig!({ user: 'd7y', defaultPort: 9870 });
  const added: string[][] = [];
  const stops: Array<() => Promise<void>> = [];
  await plugin.register({
    pluginName: 'hdfs', role: 'peer', config, logger: pino({ level: 'silent' }), metrics: undefined as never, dataDir: '/nonexistent',
    sources: { add: (c) => { added.push([...c.schemes]); } },
    evaluators: { add: () => undefined }, storage: { add: () => undefined },
    lifecycle: { add: (r) => { stops.push(() => r.stop()); } },
  });
  t.deepEqual(added, [['hdfs']]);
  t.deepEqual(plugin.manifest.provides, ['source:hdfs']);
  for (const s of stops) await s();
});
