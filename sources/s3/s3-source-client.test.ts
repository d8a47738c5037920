import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { Readable, Writable } from 'node:stream';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import test from 'ava';
import { pino } from 'pino';
import { isD7yError, type SourceRequest } from '../../core/index.js';
import { sourceClientContract } from '../../core/testing/source-client-contract.js';
import { patternStream, rssSampler } from '../../test/fakes/pattern-stream.js';
import { S3RVER_KEY, startS3rver, type S3rverInstance } from '../../test/fakes/s3rver-process.js';
import plugin from './index.js';
import { toS3Error } from './s3-errors.js';
import { S3SourceClient } from './s3-source-client.js';

const BUCKET = 'd7y-test';
const MiB = 1024 * 1024;
let server: S3rverInstance;
let client: S3SourceClient;
let seeder: S3Client;

test.before(async () => {
  server = await startS3rver([BUCKET]);
  client = new S3SourceClient({ endpoint: server.endpoint, ...S3RVER_KEY });
  seeder = new S3Client({
    endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true,
    credentials: { accessKeyId: S3RVER_KEY.accessKeyId, secretAccessKey: S3RVER_KEY.accessKeySecret },
  });
});

test.after.always(async () => {
  client?.close();
  seeder?.destroy();
  await server?.stop();
});

const seed = (key: string, bytes: Buffer) => seeder.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: bytes })).then(() => undefined);
const url = (key: string) => `s3://${BUCKET}/${key}`;

sourceClientContract(test, {
  name: 's3 (s3rver)',
  features: { list: true, put: true },
  async setup() {
    return {
      client,
      urlOf: url,
      missingUrl: url('contract/missing.bin'),
      seed,
      listUrl: url,
      supportsPut: true,
    };
  },
});

test('wrong credentials are D7Y_SOURCE_AUTH naming the origin code, never the secret (messages and logs)', async (t) => {
  await seed('auth/obj.bin', randomBytes(100));
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  const logged = new S3SourceClient({ endpoint: server.endpoint }, pino({ level: 'trace' }, sink));
  t.teardown(() => logged.close());
  const secret = 'wrong-secret-0123456789';
  const objectStorage = { accessKeyId: 'NOSUCHKEYID', accessKeySecret: secret, sessionToken: 'session-token-secret-42' };
  for (const call of [
    () => logged.stat({ url: url('auth/obj.bin'), objectStorage }),
    () => logged.download({ url: url('auth/obj.bin'), objectStorage }),
    () => logged.put({ url: url('auth/put.bin'), objectStorage }, Readable.from([Buffer.alloc(10)])),
  ]) {
    const err = await t.throwsAsync(call());
    t.true(isD7yError(err, 'D7Y_SOURCE_AUTH'), `${err?.message}`);
    t.true(err!.message.includes(`s3://${BUCKET}/auth/`), err!.message);
    t.false(err!.message.includes(secret));
    t.false(JSON.stringify((err as { details?: unknown }).details).includes(secret));
  }
  const getErr = await t.throwsAsync(logged.download({ url: url('auth/obj.bin'), objectStorage }));
  t.regex(getErr!.message, /InvalidAccessKeyId \(HTTP 403\)/);
  t.true(lines.length > 0, 'the client logged something at trace level');
  t.false(lines.join('').includes(secret));
  t.false(lines.join('').includes('session-token-secret-42'));
});

test('S3 auth error codes map to D7Y_SOURCE_AUTH with the code in the message and secrets scrubbed', (t) => {
  const ctx = { url: 's3://b/k', bucket: 'b', operation: 'stat', secrets: ['TopSecretValue'] };
  for (const code of ['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken']) {
    const sdkErr = Object.assign(new Error(`denied, key TopSecretValue`), { name: code, $metadata: { httpStatusCode: 403 } });
    const err = toS3Error(sdkErr, ctx);
    t.is(err.code, 'D7Y_SOURCE_AUTH');
    t.true(err.message.includes(code) && err.message.includes('s3://b/k'), err.message);
    t.false(err.message.includes('TopSecretValue'));
  }
  t.is(toS3Error(Object.assign(new Error('x'), { name: 'NoSuchBucket', $metadata: { httpStatusCode: 404 } }), ctx).code, 'D7Y_SOURCE_NOT_FOUND');
  t.is(toS3Error(Object.assign(new Error('x'), { name: 'InvalidRange', $metadata: { httpStatusCode: 416 } }), ctx).code, 'D7Y_SOURCE_RANGE_UNSUPPORTED');
});

test('credentials come from the environment when neither config nor request gives them', async (t) => {
  await seed('env/obj.bin', randomBytes(321));
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
  process.env.AWS_ACCESS_KEY_ID = S3RVER_KEY.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = S3RVER_KEY.accessKeySecret;
  t.teardown(() => {
    if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID; else process.env.AWS_ACCESS_KEY_ID = saved.id;
    if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY; else process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
  });
  const fromEnv = new S3SourceClient({ endpoint: server.endpoint });
  t.teardown(() => fromEnv.close());
  t.is((await fromEnv.stat({ url: url('env/obj.bin') })).contentLength, 321);
});

test('per-request objectStorage overrides the plugin config (endpoint and keys)', async (t) => {
  await seed('req/obj.bin', randomBytes(77));
  const bare = new S3SourceClient({ endpoint: 'http://127.0.0.1:9', accessKeyId: 'x', accessKeySecret: 'y', maxAttempts: 1 });
  t.teardown(() => bare.close());
  const st = await bare.stat({ url: url('req/obj.bin'), objectStorage: { endpoint: server.endpoint, region: 'eu-west-1', ...S3RVER_KEY } });
  t.is(st.contentLength, 77);
  t.truthy(st.etag);
  t.truthy(st.lastModified);
  const down = await t.throwsAsync(bare.stat({ url: url('req/obj.bin') }));
  t.true(isD7yError(down, 'D7Y_SOURCE_UNAVAILABLE'), down?.message);
});

test('a missing bucket and a missing key are told apart (NoSuchBucket / NoSuchKey)', async (t) => {
  const bucketErr = await t.throwsAsync(client.stat({ url: 's3://no-such-bucket-d7y/a/b.bin' }));
  t.true(isD7yError(bucketErr, 'D7Y_SOURCE_NOT_FOUND'));
  t.regex(bucketErr!.message, /s3:\/\/no-such-bucket-d7y\/a\/b\.bin.*NoSuchBucket/);
  const keyErr = await t.throwsAsync(client.download({ url: url('nope/none.bin') }));
  t.true(isD7yError(keyErr, 'D7Y_SOURCE_NOT_FOUND'));
  t.regex(keyErr!.message, /NoSuchKey/);
  const listErr = await t.throwsAsync(async () => { for await (const _ of client.list({ url: 's3://no-such-bucket-d7y/x/' })) { /* none */ } });
  t.regex(listErr!.message, /NoSuchBucket/);
});

test('a prefix with 1,000 objects is listed completely across pages, and non-recursively as directories', async (t) => {
  const keys = Array.from({ length: 1000 }, (_, i) => `many/d${i % 4}/obj-${String(i).padStart(4, '0')}.bin`);
  for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k, j) => server.writeObject(BUCKET, k, Buffer.alloc((i + j) % 50, 1))));
  const paged = new S3SourceClient({ endpoint: server.endpoint, ...S3RVER_KEY, listPageSize: 400 });
  t.teardown(() => paged.close());
  const seen = new Map<string, number | undefined>();
  for await (const e of paged.list({ url: url('many'), recursive: true })) seen.set(e.path, e.contentLength);
  t.is(seen.size, 1000);
  keys.forEach((k, i) => t.is(seen.get(k.slice('many/'.length)), i % 50, k));
  const top = [];
  for await (const e of paged.list({ url: url('many/') })) top.push(`${e.path}:${e.isDirectory}`);
  t.deepEqual(top.sort(), ['d0:true', 'd1:true', 'd2:true', 'd3:true']);
});

test('a multipart put of several parts round-trips byte-exact', async (t) => {
  const size = 12 * MiB + 5;
  const gen = patternStream(size);
  const small = new S3SourceClient({ endpoint: server.endpoint, ...S3RVER_KEY, partSize: 5 * MiB, uploadConcurrency: 2 });
  t.teardown(() => small.close());
  await small.put({ url: url('put/multi.bin') }, gen.stream);
  const st = await small.stat({ url: url('put/multi.bin') });
  t.is(st.contentLength, size);
  const dl = await small.download({ url: url('put/multi.bin') });
  const hash = createHash('sha256');
  for await (const chunk of dl.stream) hash.update(chunk as Buffer);
  t.is(hash.digest('hex'), await gen.sha256);
});

test('a 1 GiB object reads back byte-exact in 64 MiB ranged pieces with flat RSS', async (t) => {
  t.timeout(100_000);
  const size = 1024 * MiB;
  const gen = patternStream(size);
  await server.writeObject(BUCKET, 'big/1g.bin', gen.stream);
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

test('the plugin refuses unknown config keys and half a key pair, and registers the s3 scheme', async (t) => {
  t.throws(() => plugin.parseConfig!({ endpoint: server.endpoint, bogus: 1 }));
  t.throws(() => plugin.parseConfig!({ accessKeyId: 'only-id' }));
  const config = plugin.parseConfig!({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true });
  const added: string[][] = [];
  const stops: Array<() => Promise<void>> = [];
  await plugin.register({
    pluginName: 's3', role: 'peer', config, logger: pino({ level: 'silent' }), metrics: undefined as never, dataDir: '/nonexistent',
    sources: { add: (c) => { added.push([...c.schemes]); } },
    evaluators: { add: () => undefined }, storage: { add: () => undefined },
    lifecycle: { add: (r) => { stops.push(() => r.stop()); } },
  });
  t.deepEqual(added, [['s3']]);
  t.deepEqual(plugin.manifest.provides, ['source:s3']);
  for (const s of stops) await s();
});
