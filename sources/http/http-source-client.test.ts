import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import test, { type ExecutionContext } from 'ava';
import { isD7yError, type D7yError } from '../../core/index.js';
import { sourceClientContract } from '../../core/testing/source-client-contract.js';
import { freePort } from '../../test/support/env.js';
import { startOriginServer, type OriginServer } from '../../test/support/origin-server.js';
import { HttpSourceClient } from './http-source-client.js';
import type { HttpSourceConfig } from './http-source-config.js';

function clientFor(t: ExecutionContext, config: Partial<HttpSourceConfig> = {}): HttpSourceClient {
  const client = new HttpSourceClient({ retryDelay: 20, maxRetryDelay: 200, ...config });
  t.teardown(() => client.stop());
  return client;
}

async function origin(t: ExecutionContext, files: Record<string, Buffer> = {}): Promise<OriginServer> {
  return startOriginServer(t, { files });
}

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

sourceClientContract(test, {
  name: 'http',
  features: { auth: true },
  async setup(t) {
    const server = await origin(t);
    server.behave('/forbidden.bin', { status: 403 });
    return {
      client: clientFor(t),
      urlOf: (key) => server.urlOf('/' + key),
      missingUrl: server.urlOf('/contract/no-such-object.bin'),
      seed: async (key, bytes) => server.setFile('/' + key, bytes),
      unauthorizedUrl: server.urlOf('/forbidden.bin'),
    };
  },
});

test('HEAD refused: stat still gives the length via a ranged GET', async (t) => {
  const data = randomBytes(123_457);
  const server = await origin(t, { '/f.bin': data });
  for (const refuseHead of [405, 501, 403] as const) {
    server.behave('/f.bin', { refuseHead });
    const st = await clientFor(t).stat({ url: server.urlOf('/f.bin') });
    t.is(st.contentLength, data.length, `HEAD ${refuseHead}`);
    t.true(st.supportsRange);
    t.truthy(st.etag);
  }
  t.is(server.served.bytes, 3, 'each fallback read one byte');
});

test('stat reports length, range support, etag, last-modified and content type from HEAD', async (t) => {
  const data = randomBytes(1000);
  const server = await origin(t, { '/f.bin': data });
  const st = await clientFor(t).stat({ url: server.urlOf('/f.bin') });
  t.like(st, { contentLength: 1000, supportsRange: true, contentType: 'application/octet-stream' });
  t.truthy(st.etag);
  t.truthy(st.lastModified);
  t.is(server.served.requests('/f.bin', 'GET'), 0);
});

test('no Content-Length: stat says unknown, the full download still works', async (t) => {
  const data = randomBytes(3 * 1024 * 1024 + 11);
  const server = await origin(t, { '/c.bin': data });
  server.behave('/c.bin', { chunked: true });
  const client = clientFor(t);
  const st = await client.stat({ url: server.urlOf('/c.bin') });
  t.is(st.contentLength, undefined);
  const dl = await client.download({ url: server.urlOf('/c.bin') });
  t.is(dl.contentLength, undefined);
  t.is(sha(await bytesOf(dl.stream)), sha(data));
});

test('503 twice then 200: the download succeeds after 3 requests', async (t) => {
  const data = randomBytes(50_000);
  const server = await origin(t, { '/r.bin': data });
  server.behave('/r.bin', { failFirst: { count: 2, status: 503 } });
  const dl = await clientFor(t, { retries: 3 }).download({ url: server.urlOf('/r.bin') });
  t.true((await bytesOf(dl.stream)).equals(data));
  t.is(server.served.requests('/r.bin'), 3);
});

test('503 forever: D7Y_SOURCE_UNAVAILABLE naming the status, within the deadline', async (t) => {
  const server = await origin(t, { '/down.bin': randomBytes(10) });
  server.behave('/down.bin', { status: 503 });
  const started = Date.now();
  const err = await t.throwsAsync<D7yError>(clientFor(t, { retries: 20, retryDelay: 100, maxRetryDelay: 300, deadline: 3000 })
    .download({ url: server.urlOf('/down.bin') }));
  t.true(isD7yError(err, 'D7Y_SOURCE_UNAVAILABLE'), err?.message);
  t.regex(err!.message, /503 Service Unavailable/);
  t.true(err!.message.includes(server.urlOf('/down.bin')));
  t.true(Date.now() - started < 4500, `gave up after ${Date.now() - started} ms`);
  t.true(server.served.requests('/down.bin') >= 2, 'it retried');
});

test('redirects are followed', async (t) => {
  const data = randomBytes(70_000);
  const server = await origin(t, { '/new/place.bin': data });
  server.behave('/old.bin', { redirectTo: '/mid.bin' });
  server.behave('/mid.bin', { redirectTo: server.urlOf('/new/place.bin') });
  const client = clientFor(t);
  const dl = await client.download({ url: server.urlOf('/old.bin'), range: { start: 100, length: 50 } });
  t.true((await bytesOf(dl.stream)).equals(data.subarray(100, 150)));
  t.is((await client.stat({ url: server.urlOf('/old.bin') })).contentLength, data.length);
});

test('too many redirects and redirect loops are clear D7Y_SOURCE_ERRORs', async (t) => {
  const server = await origin(t, { '/r5': randomBytes(10) });
  for (let i = 0; i < 5; i++) server.behave(`/r${i}`, { redirectTo: `/r${i + 1}` });
  server.behave('/loop.bin', { redirectTo: '/loop.bin' });
  const client = clientFor(t, { maxRedirections: 3 });
  const tooMany = await t.throwsAsync<D7yError>(client.download({ url: server.urlOf('/r0') }));
  t.true(isD7yError(tooMany, 'D7Y_SOURCE_ERROR'), tooMany?.message);
  t.regex(tooMany!.message, /302 Found/);
  const loop = await t.throwsAsync<D7yError>(client.download({ url: server.urlOf('/loop.bin') }));
  t.true(isD7yError(loop, 'D7Y_SOURCE_ERROR'), loop?.message);
  t.regex(loop!.message, /loop/);
});

test('403 is D7Y_SOURCE_AUTH with the status in the message', async (t) => {
  const server = await origin(t, { '/secret.bin': randomBytes(10) });
  server.behave('/secret.bin', { status: 403 });
  const err = await t.throwsAsync<D7yError>(clientFor(t).download({ url: server.urlOf('/secret.bin') }));
  t.true(isD7yError(err, 'D7Y_SOURCE_AUTH'));
  t.regex(err!.message, /403 Forbidden/);
  t.truthy(err!.fix);
});

test('410 is not found, 400 is a source error, neither retried', async (t) => {
  const server = await origin(t);
  server.behave('/gone', { status: 410 });
  server.behave('/bad', { status: 400 });
  const client = clientFor(t);
  t.true(isD7yError(await t.throwsAsync(client.download({ url: server.urlOf('/gone') })), 'D7Y_SOURCE_NOT_FOUND'));
  const bad = await t.throwsAsync<D7yError>(client.download({ url: server.urlOf('/bad') }));
  t.true(isD7yError(bad, 'D7Y_SOURCE_ERROR'));
  t.regex(bad!.message, /400 Bad Request/);
  t.is(server.served.requests(), 2);
});

test('an origin that ignores Range gives D7Y_SOURCE_RANGE_UNSUPPORTED; a range from 0 is cut', async (t) => {
  const data = randomBytes(100_000);
  const server = await origin(t, { '/n.bin': data });
  server.behave('/n.bin', { ignoreRange: true });
  const client = clientFor(t);
  const err = await t.throwsAsync<D7yError>(client.download({ url: server.urlOf('/n.bin'), range: { start: 500, length: 100 } }));
  t.true(isD7yError(err, 'D7Y_SOURCE_RANGE_UNSUPPORTED'), err?.message);
  const st = await client.stat({ url: server.urlOf('/n.bin') });
  t.false(st.supportsRange);
  const head = await client.download({ url: server.urlOf('/n.bin'), range: { start: 0, length: 1000 } });
  t.is(head.contentLength, 1000);
  t.true((await bytesOf(head.stream)).equals(data.subarray(0, 1000)));
});

test('secrets in userinfo or signature params never appear in error messages', async (t) => {
  const server = await origin(t);
  server.behave('*', { status: 403 });
  const client = clientFor(t);
  const base = new URL(server.urlOf('/bucket/key.bin'));
  const url = `http://alice:hunter2secret@${base.host}${base.pathname}?X-Amz-Signature=deadbeefsig&X-Amz-Credential=AKIDEXAMPLE&part=1`;
  for (const call of [() => client.stat({ url }), () => client.download({ url })]) {
    const err = await t.throwsAsync<D7yError>(call());
    const text = `${err!.message} ${err!.fix ?? ''} ${JSON.stringify(err!.details)}`;
    for (const secret of ['hunter2secret', 'alice', 'deadbeefsig', 'AKIDEXAMPLE']) t.false(text.includes(secret), `${secret} leaked: ${text}`);
    t.true(err!.message.includes(`${base.host}/bucket/key.bin`), err!.message);
    t.true(err!.message.includes('part=1'));
  }
  const port = await freePort();
  const refused = await t.throwsAsync<D7yError>(clientFor(t, { retries: 1 }).stat({ url: `http://bob:pw0rdsecret@127.0.0.1:${port}/x?X-Amz-Signature=abc123sig` }));
  t.true(isD7yError(refused, 'D7Y_SOURCE_UNAVAILABLE'));
  t.regex(refused!.message, /ECONNREFUSED/);
  t.false(/pw0rdsecret|abc123sig|bob/.test(refused!.message), refused!.message);
});

test('request headers are sent as given', async (t) => {
  const server = await origin(t, { '/h.bin': randomBytes(10) });
  const dl = await clientFor(t).download({ url: server.urlOf('/h.bin'), headers: { Authorization: 'Bearer xyz', 'X-Trace': 'abc' } });
  await bytesOf(dl.stream);
  t.like(server.served.lastHeaders('/h.bin'), { authorization: 'Bearer xyz', 'x-trace': 'abc' });
});

test('a connection dropped mid-body fails the stream with D7Y_SOURCE_UNAVAILABLE', async (t) => {
  const server = await origin(t, { '/d.bin': randomBytes(1_000_000) });
  server.behave('/d.bin', { dropAfterBytes: 300_000 });
  const dl = await clientFor(t).download({ url: server.urlOf('/d.bin') });
  const err = await t.throwsAsync<D7yError>(bytesOf(dl.stream));
  t.true(isD7yError(err, 'D7Y_SOURCE_UNAVAILABLE'), err?.message);
  t.regex(err!.message, /after \d+ of 1000000 bytes/);
});

test('abort during a slow body and during retries backoff is prompt', async (t) => {
  const server = await origin(t, { '/s.bin': randomBytes(2_000_000), '/u.bin': randomBytes(10) });
  server.behave('/s.bin', { rateBytesPerSec: 200_000 });
  server.behave('/u.bin', { status: 503 });
  const client = clientFor(t, { retries: 10, retryDelay: 2000, maxRetryDelay: 2000 });
  const ac = new AbortController();
  const dl = await client.download({ url: server.urlOf('/s.bin'), signal: ac.signal });
  setTimeout(() => ac.abort(), 100);
  const started = Date.now();
  t.true(isD7yError(await t.throwsAsync(bytesOf(dl.stream)), 'D7Y_ABORTED'));
  t.true(Date.now() - started < 1500);
  const ac2 = new AbortController();
  setTimeout(() => ac2.abort(), 200);
  const started2 = Date.now();
  t.true(isD7yError(await t.throwsAsync(client.stat({ url: server.urlOf('/u.bin'), signal: ac2.signal })), 'D7Y_ABORTED'));
  t.true(Date.now() - started2 < 1500);
});

test('connections are reused across requests (keep-alive)', async (t) => {
  const server = await origin(t, { '/k.bin': randomBytes(1000) });
  const client = clientFor(t);
  for (let i = 0; i < 10; i++) await bytesOf((await client.download({ url: server.urlOf('/k.bin') })).stream);
  t.is(server.served.requests('/k.bin'), 10);
  t.true(server.served.connections <= 2, `${server.served.connections} connections for 10 requests`);
});
