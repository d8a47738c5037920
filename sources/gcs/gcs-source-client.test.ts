import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { crc32 } from 'node:zlib';
import test from 'ava';
import { isD7yError } from '../../core/index.js';
import { sourceClientContract } from '../../core/testing/source-client-contract.js';
import { FakeGcsServer } from '../../test/fakes/fake-gcs-server.js';
import { patternStream, rssSampler } from '../../test/fakes/pattern-stream.js';
import plugin from './index.js';
import { GcsSourceClient } from './gcs-source-client.js';

const BUCKET = 'd7y-gcs';
const MiB = 1024 * 1024;
let root: string;
let server: FakeGcsServer;
let client: GcsSourceClient;

test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'd7y-fake-gcs-'));
  server = new FakeGcsServer({ root, buckets: [BUCKET, 'locked'], forbiddenBuckets: ['locked'] });
  await server.start();
  client = new GcsSourceClient({ endpoint: server.endpoint, maxRetries: 0 });
});

test.after.always(async () => {
  await client?.close();
  await server?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

const url = (key: string) => `gs://${BUCKET}/${key}`;

sourceClientContract(test, {
  name: 'gcs (fake JSON API)',
  features: { list: true, put: true, auth: true },
  async setup() {
    return {
      client,
      urlOf: url,
      missingUrl: url('contract/missing.bin'),
      seed: (key, bytes) => server.putObject(BUCKET, key, bytes),
      listUrl: url,
      supportsPut: true,
      unauthorizedUrl: 'gs://locked/contract/secret.bin',
    };
  },
});

test('a wrong access token is D7Y_SOURCE_AUTH naming the origin reason, never the token', async (t) => {
  const tokenRoot = await mkdtemp(join(tmpdir(), 'd7y-fake-gcs-'));
  const guarded = new FakeGcsServer({ root: tokenRoot, buckets: ['b'], token: 'right-token-123' });
  await guarded.start();
  t.teardown(async () => { await guarded.stop(); await rm(tokenRoot, { recursive: true, force: true }); });
  await guarded.putObject('b', 'o.bin', Buffer.from('hello'));
  const c = new GcsSourceClient({ endpoint: guarded.endpoint, maxRetries: 0 });
  const err = await t.throwsAsync(c.stat({ url: 'gs://b/o.bin', objectStorage: { sessionToken: 'wrong-token-456' } }));
  t.true(isD7yError(err, 'D7Y_SOURCE_AUTH'), err?.message);
  t.regex(err!.message, /gs:\/\/b\/o\.bin.*authError \(HTTP 401\)/);
  t.false(err!.message.includes('wrong-token-456'));
  const anonymous = await t.throwsAsync(c.download({ url: 'gs://b/o.bin' }));
  t.true(isD7yError(anonymous, 'D7Y_SOURCE_AUTH'), anonymous?.message);
  t.teardown(() => c.close());
  const st = await c.stat({ url: 'gs://b/o.bin', objectStorage: { sessionToken: 'right-token-123' } });
  t.is(st.contentLength, 5);
  const configured = new GcsSourceClient({ endpoint: guarded.endpoint, accessToken: 'right-token-123' });
  t.teardown(() => configured.close());
  const dl = await configured.download({ url: 'gs://b/o.bin', range: { start: 1, length: 3 } });
  t.is(Buffer.concat(await dl.stream.toArray()).toString(), 'ell');
});

test('a credentials file that does not exist is D7Y_SOURCE_AUTH naming the path', async (t) => {
  const missing = join(root, 'no-such-key.json');
  const err = await t.throwsAsync(client.stat({ url: url('x.bin'), objectStorage: { credentialFile: missing } }));
  t.true(isD7yError(err, 'D7Y_SOURCE_AUTH') || isD7yError(err, 'D7Y_SOURCE_ERROR'), err?.message);
  t.true(err!.message.includes('no-such-key.json'), err!.message);
});

test('a missing bucket and a missing object are both D7Y_SOURCE_NOT_FOUND with the origin message', async (t) => {
  const b = await t.throwsAsync(client.stat({ url: 'gs://no-such-bucket/a.bin' }));
  t.true(isD7yError(b, 'D7Y_SOURCE_NOT_FOUND'));
  t.regex(b!.message, /gs:\/\/no-such-bucket\/a\.bin.*notFound \(HTTP 404\).*bucket does not exist/);
  const o = await t.throwsAsync(client.download({ url: url('nope/none.bin') }));
  t.true(isD7yError(o, 'D7Y_SOURCE_NOT_FOUND'));
  t.regex(o!.message, /No such object: d7y-gcs\/nope\/none\.bin/);
  const l = await t.throwsAsync(async () => { for await (const _ of client.list({ url: 'gs://no-such-bucket/x/' })) { /* none */ } });
  t.true(isD7yError(l, 'D7Y_SOURCE_NOT_FOUND'), l?.message);
});

test('a prefix with 1,000 objects is listed completely across pages, and non-recursively as directories', async (t) => {
  const keys = Array.from({ length: 1000 }, (_, i) => `many/d${i % 4}/obj-${String(i).padStart(4, '0')}.bin`);
  for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k, j) => server.putObject(BUCKET, k, Buffer.alloc((i + j) % 50, 2))));
  const paged = new GcsSourceClient({ endpoint: server.endpoint, listPageSize: 97 });
  t.teardown(() => paged.close());
  const before = server.requests.length;
  const seen = new Map<string, number | undefined>();
  for await (const e of paged.list({ url: url('many'), recursive: true })) seen.set(e.path, e.contentLength);
  t.is(seen.size, 1000);
  keys.forEach((k, i) => t.is(seen.get(k.slice('many/'.length)), i % 50, k));
  t.is(server.requests.slice(before).filter((r) => r.includes('pageToken=')).length, 10, 'eleven pages of 97');
  const top = [];
  for await (const e of paged.list({ url: url('many/') })) top.push(`${e.path}:${e.isDirectory}`);
  t.deepEqual(top.sort(), ['d0:true', 'd1:true', 'd2:true', 'd3:true']);
});

test('a put in resumable chunks round-trips byte-exact', async (t) => {
  const size = 3 * MiB + 7;
  const gen = patternStream(size);
  const chunked = new GcsSourceClient({ endpoint: server.endpoint, uploadChunkSize: MiB });
  t.teardown(() => chunked.close());
  await chunked.put({ url: url('put/chunked.bin') }, gen.stream);
  const dl = await chunked.download({ url: url('put/chunked.bin') });
  t.is(dl.contentLength, size);
  let crc = 0;
  for await (const chunk of dl.stream) crc = crc32(chunk as Buffer, crc);
  t.is(crc, await gen.crc32);
  t.true(server.requests.filter((r) => r.startsWith('PUT') && r.includes('put%2Fchunked.bin')).length >= 4, 'several chunk PUTs');
});

test('a 1 GiB object reads back byte-exact in 64 MiB ranged pieces with flat RSS', async (t) => {
  t.timeout(100_000);
  const size = 1024 * MiB;
  const gen = patternStream(size);
  await pipeline(gen.stream, createWriteStream(server.objectPath(BUCKET, 'big/1g.bin')));
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
  t.log(`ranged get ${(size / MiB / (ms / 1000)).toFixed(0)} MiB/s, RSS +${grewMiB.toFixed(0)} MiB`);
  t.true(grewMiB < 200, `RSS grew by ${grewMiB.toFixed(0)} MiB while reading 1 GiB`);
});

test('the plugin refuses unknown config keys and registers the gs scheme', async (t) => {
  t.throws(() => plugin.parseConfig!({ endpoint: server.endpoint, bogus: 1 }));
  t.throws(() => plugin.parseConfig!({ uploadChunkSize: 1000 }));
  const config = plugin.parseConfig!({ endpoint: server.endpoint });
  const added: string[][] = [];
  await plugin.register({
    pluginName: 'gcs', role: 'peer', config, logger: undefined as never, metrics: undefined as never, dataDir: '/nonexistent',
    sources: { add: (c) => { added.push([...c.schemes]); } },
    evaluators: { add: () => undefined }, storage: { add: () => undefined }, lifecycle: { add: () => undefined },
  });
  t.deepEqual(added, [['gs']]);
  t.deepEqual(plugin.manifest.provides, ['source:gs']);
  await writeFile(join(root, 'unused'), '');
});
