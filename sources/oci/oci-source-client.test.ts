import { createHash, randomBytes } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import test from 'ava';
import { isD7yError, type DownloadRequest, type SourceClient } from '../../core/index.js';
import { sourceClientContract } from '../../core/testing/source-client-contract.js';
import { cachedFixture } from '../../test/support/artifact-fixture.js';
import { tmpDir } from '../../test/support/env.js';
import { pushImage, skopeoCopyLayout, startRegistry, type Registry } from '../../test/support/registry.js';
import plugin, { ociBlobTaskKey, OciSourceClient, writeOciLayout, type OciSourceOptions } from './index.js';

const fixture = () => cachedFixture('build-oci-images.sh');

function client(t: import('ava').ExecutionContext, reg: Registry | Registry[], extra: OciSourceOptions = {}): OciSourceClient {
  const regs = Array.isArray(reg) ? reg : [reg];
  const c = new OciSourceClient({ insecureRegistries: regs.map((r) => r.host), timeoutMs: 10_000, platform: 'linux/amd64', ...extra });
  t.teardown(() => c.close());
  return c;
}

async function pushBlob(reg: Registry, repo: string, bytes: Buffer): Promise<string> {
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const start = await fetch(`http://${reg.host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  if (start.status !== 202) throw new Error(`upload start: HTTP ${start.status}`);
  const location = new URL(start.headers.get('location')!, `http://${reg.host}`);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream' } });
  if (put.status !== 201) throw new Error(`upload: HTTP ${put.status}`);
  return digest;
}

async function layoutRef(name: string): Promise<{ digest: string; size: number }> {
  const idx = JSON.parse(await readFile(join(await fixture(), 'layout/index.json'), 'utf8')) as { manifests: { digest: string; size: number; annotations: Record<string, string> }[] };
  return idx.manifests.find((m) => m.annotations['org.opencontainers.image.ref.name'] === name)!;
}

async function bytesOf(c: SourceClient, req: DownloadRequest): Promise<Buffer> {
  const dl = await c.download(req);
  const chunks: Buffer[] = [];
  for await (const ch of dl.stream) chunks.push(ch as Buffer);
  return Buffer.concat(chunks);
}

sourceClientContract(test, {
  name: 'oci (docker-registry blobs)',
  objectSize: 3 * 1024 * 1024,
  async setup(t) {
    const reg = await startRegistry(t);
    const digests = new Map<string, string>();
    const c = client(t, reg);
    const urlOf = (key: string) => `oci://${reg.host}/contract/blobs/${digests.get(key) ?? `sha256:${'0'.repeat(64)}`}`;
    return {
      client: c,
      urlOf,
      missingUrl: `oci://${reg.host}/contract/blobs/sha256:${'e'.repeat(64)}`,
      seed: async (key, bytes) => { digests.set(key, await pushBlob(reg, 'contract', bytes)); },
    };
  },
});

test('an image pushed by skopeo lists as an OCI layout that skopeo copies back', async (t) => {
  const reg = await startRegistry(t);
  await pushImage(`oci:${join(await fixture(), 'layout')}:amd64`, reg, 'test/img:v1');
  const c = client(t, reg);
  const entries = [];
  for await (const e of c.list!({ url: `oci://${reg.host}/test/img:v1` })) entries.push(e);
  const amd = await layoutRef('amd64');
  t.deepEqual(entries.slice(0, 3).map((e) => e.path), ['oci-layout', 'index.json', `blobs/sha256/${amd.digest.slice(7)}`]);
  t.is(entries.length, 3 + 1 + 2, 'config and two layers follow');

  const out = await tmpDir(t);
  await writeOciLayout(c, `oci://${reg.host}/test/img:v1`, out);
  const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations: Record<string, string> }[] };
  t.is(index.manifests[0]!.digest, amd.digest);
  t.is(index.manifests[0]!.annotations['org.opencontainers.image.ref.name'], 'v1');
  const copy = await tmpDir(t);
  await skopeoCopyLayout(`oci:${out}:v1`, `oci:${copy}:v1`);
  const copied = JSON.parse(await readFile(join(copy, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  t.is(copied.manifests[0]!.digest, amd.digest, 'skopeo accepted the layout and kept the manifest digest');
  t.deepEqual((await readdir(join(copy, 'blobs/sha256'))).sort(), (await readdir(join(out, 'blobs/sha256'))).sort());
});

test('a multi-arch index resolves to the requested platform, the host default, or names its platforms', async (t) => {
  const reg = await startRegistry(t);
  const layout = `oci:${join(await fixture(), 'layout')}:multi`;
  await pushImage(layout, reg, 'test/multi:v1', { all: true });
  await pushImage(layout, reg, 'test/dockerlist:v1', { all: true, format: 'v2s2' });
  const c = client(t, reg);
  const [amd, arm] = [await layoutRef('amd64'), await layoutRef('arm64')];
  t.is((await c.stat({ url: `oci://${reg.host}/test/multi:v1?platform=linux/arm64` })).digest, arm.digest);
  t.is((await c.stat({ url: `oci://${reg.host}/test/multi:v1` })).digest, amd.digest, 'the configured default platform');
  t.is((await c.stat({ url: `oci://${reg.host}/test/multi:v1`, options: { platform: 'linux/arm64' } })).digest, arm.digest);
  const err = await t.throwsAsync(c.stat({ url: `oci://${reg.host}/test/multi:v1?platform=linux/s390x` }));
  t.true(isD7yError(err, 'D7Y_SOURCE_NOT_FOUND'));
  t.regex(err!.message, /linux\/amd64, linux\/arm64/);

  const docker = await c.stat({ url: `oci://${reg.host}/test/dockerlist:v1?platform=linux/arm64` });
  t.is(docker.contentType, 'application/vnd.docker.distribution.manifest.v2+json', 'a Docker manifest list resolves to a Docker v2 manifest');
  const manifest = JSON.parse((await bytesOf(c, { url: `oci://${reg.host}/test/dockerlist:v1?platform=linux/arm64` })).toString()) as { layers: { digest: string; size: number }[] };
  const out = await tmpDir(t);
  await writeOciLayout(c, `oci://${reg.host}/test/dockerlist:v1?platform=linux/arm64`, out);
  const copy = await tmpDir(t);
  await skopeoCopyLayout(`oci:${out}:v1`, `oci:${copy}:v1`);
  t.deepEqual((await readdir(join(copy, 'blobs/sha256'))).sort(), (await readdir(join(out, 'blobs/sha256'))).sort(), 'a Docker v2 image becomes a layout skopeo accepts');
  const layer = manifest.layers[0]!;
  const st = await c.stat({ url: `oci://${reg.host}/test/dockerlist/blobs/${layer.digest}` });
  t.is(st.contentLength, layer.size);
  t.is(st.digest, layer.digest);
});

test('blob downloads are verified: a tampered blob on the registry is D7Y_DIGEST_MISMATCH', async (t) => {
  const reg = await startRegistry(t);
  const bytes = randomBytes(300_000);
  const digest = await pushBlob(reg, 'test/blob', bytes);
  const c = client(t, reg);
  const url = `oci://${reg.host}/test/blob/blobs/${digest}`;
  t.true((await bytesOf(c, { url })).equals(bytes));
  t.true((await bytesOf(c, { url, range: { start: 1000, length: 5000 } })).equals(bytes.subarray(1000, 6000)));
  const store = join(reg.storeDir, 'docker/registry/v2/blobs/sha256', digest.slice(7, 9), digest.slice(7), 'data');
  const tampered = Buffer.from(bytes);
  tampered[12345] ^= 0xff;
  await writeFile(store, tampered);
  const err = await t.throwsAsync(bytesOf(c, { url }));
  t.true(isD7yError(err, 'D7Y_DIGEST_MISMATCH'), String(err));
  t.true(err!.message.includes(digest.slice(7)));
});

test('basic auth: refused anonymously and with a wrong password, served with the configured one', async (t) => {
  const reg = await startRegistry(t, { htpasswd: { alice: 's3cret-pw' } });
  await pushImage(`oci:${join(await fixture(), 'layout')}:amd64`, reg, 'test/img:v1');
  const url = `oci://${reg.host}/test/img:v1`;
  const anon = await t.throwsAsync(client(t, reg).stat({ url }));
  t.true(isD7yError(anon, 'D7Y_SOURCE_AUTH'), String(anon));
  t.regex(anon!.message, /anonymously/);
  const wrong = await t.throwsAsync(client(t, reg, { credentials: new Map([[reg.host, { username: 'alice', password: 'wrong-pw' }]]) }).stat({ url }));
  t.true(isD7yError(wrong, 'D7Y_SOURCE_AUTH'));
  t.false(`${wrong!.message} ${(wrong as { fix?: string }).fix}`.includes('wrong-pw'), 'no secret in the message');
  const good = client(t, reg, { credentials: new Map([[reg.host, { username: 'alice', password: 's3cret-pw' }]]) });
  t.is((await good.stat({ url })).digest, (await layoutRef('amd64')).digest);
});

test('token auth: the Bearer challenge is answered, the token cached, wrong credentials refused', async (t) => {
  const reg = await startRegistry(t, { token: { users: { bob: 'tok-pw' } } });
  await pushImage(`oci:${join(await fixture(), 'layout')}:amd64`, reg, 'test/img:v1');
  const before = reg.tokenIssuer!.requests;
  const c = client(t, reg, { credentials: new Map([[reg.host, { username: 'bob', password: 'tok-pw' }]]) });
  const out = await tmpDir(t);
  const entries = await writeOciLayout(c, `oci://${reg.host}/test/img:v1`, out);
  t.is(entries.length, 6);
  t.is(reg.tokenIssuer!.requests - before, 1, 'one token served every request of the image');
  const fresh = client(t, reg, { credentials: new Map([[reg.host, { username: 'bob', password: 'tok-pw' }]]) });
  await Promise.all(entries.map((e) => fresh.stat({ url: e.url })));
  t.is(reg.tokenIssuer!.requests - before, 2, 'concurrent first requests share one token request');
  const anon = await t.throwsAsync(client(t, reg).stat({ url: `oci://${reg.host}/test/img:v1` }));
  t.true(isD7yError(anon, 'D7Y_SOURCE_AUTH'), String(anon));
  const wrong = await t.throwsAsync(client(t, reg, { credentials: new Map([[reg.host, { username: 'bob', password: 'nope-pw' }]]) }).stat({ url: `oci://${reg.host}/test/img:v1` }));
  t.true(isD7yError(wrong, 'D7Y_SOURCE_AUTH'));
  t.false(wrong!.message.includes('nope-pw'));
});

test('token auth with anonymous pull needs no credentials', async (t) => {
  const reg = await startRegistry(t, { token: { users: { bob: 'tok-pw' }, anonymousPull: true } });
  await pushImage(`oci:${join(await fixture(), 'layout')}:arm64`, reg, 'public/img:v2');
  const st = await client(t, reg).stat({ url: `oci://${reg.host}/public/img:v2` });
  t.is(st.digest, (await layoutRef('arm64')).digest);
});

test('bad input: malformed URLs show the grammar, unknown tags and repositories are not found', async (t) => {
  const reg = await startRegistry(t);
  await pushImage(`oci:${join(await fixture(), 'layout')}:amd64`, reg, 'test/img:v1');
  const c = client(t, reg);
  for (const url of ['oci://', `oci://${reg.host}/UPPER/case:v1`, `oci://${reg.host}/test/img@sha256:short`, `oci://${reg.host}/test/img:v1?platform=linux`, `oci://user:pw@${reg.host}/x:1`]) {
    const err = await t.throwsAsync(c.stat({ url }));
    t.true(isD7yError(err, 'D7Y_INVALID_ARGUMENT'), url);
    t.true(err!.message.includes('oci://<registry>[:<port>]/<repository>[:<tag>]'), `the grammar is shown for ${url}`);
    t.false(err!.message.includes('user:pw'));
  }
  const tag = await t.throwsAsync(c.stat({ url: `oci://${reg.host}/test/img:nope` }));
  t.true(isD7yError(tag, 'D7Y_SOURCE_NOT_FOUND'));
  t.true(tag!.message.includes('test/img:nope'));
  const out = await tmpDir(t);
  const missing = await t.throwsAsync(writeOciLayout(c, `oci://${reg.host}/test/img:nope`, out));
  t.true(isD7yError(missing, 'D7Y_SOURCE_NOT_FOUND'));
  t.deepEqual(await readdir(out), [], 'nothing written');
  const repo = await t.throwsAsync(c.download({ url: `oci://${reg.host}/no/such:v1` }));
  t.true(isD7yError(repo, 'D7Y_SOURCE_NOT_FOUND'));
  const plain = new OciSourceClient({ timeoutMs: 5000 });
  t.teardown(() => plain.close());
  const tls = await t.throwsAsync(plain.stat({ url: `oci://${reg.host}/test/img:v1` }));
  t.true(isD7yError(tls, 'D7Y_SOURCE_UNAVAILABLE'));
  t.regex(tls!.message, /insecureRegistries|insecure=true/);
});

test('a repository URL lists its tags', async (t) => {
  const reg = await startRegistry(t);
  const layout = join(await fixture(), 'layout');
  await pushImage(`oci:${layout}:amd64`, reg, 'test/img:v1');
  await pushImage(`oci:${layout}:arm64`, reg, 'test/img:v2');
  const tags = [];
  for await (const e of client(t, reg).list!({ url: `oci://${reg.host}/test/img/` })) tags.push([e.path, e.url]);
  t.deepEqual(tags, [['v1', `oci://${reg.host}/test/img:v1`], ['v2', `oci://${reg.host}/test/img:v2`]]);
});

test('ociBlobTaskKey: the same layer from two registries is one task', async (t) => {
  const [a, b] = [await startRegistry(t), await startRegistry(t)];
  const layout = `oci:${join(await fixture(), 'layout')}:amd64`;
  await pushImage(layout, a, 'one/img:v1');
  await pushImage(layout, b, 'mirror/other:latest');
  const c = client(t, [a, b]);
  const layers = async (url: string) => { const out = []; for await (const e of c.list!({ url })) if (e.path.startsWith('blobs/')) out.push(e.url); return out; };
  const [la, lb] = [await layers(`oci://${a.host}/one/img:v1`), await layers(`oci://${b.host}/mirror/other`)];
  t.notDeepEqual(la, lb, 'the URLs differ');
  t.deepEqual(la.map(ociBlobTaskKey), lb.map(ociBlobTaskKey));
  t.is(new Set(la.map(ociBlobTaskKey)).size, la.length);
  t.is(ociBlobTaskKey(`oci://${a.host}/one/img:v1`), undefined);
  t.deepEqual(la.map((u) => c.taskKey(u)), lb.map(ociBlobTaskKey), 'the client offers the same key');
});

test('put: blobs (one streamed request, or chunks when the size is unknown) and a tagged manifest reach a token-auth registry; wrong digests are refused', async (t) => {
  const reg = await startRegistry(t, { token: { users: { alice: 'secret' } } });
  const c = client(t, reg, { credentials: new Map([[reg.host, { username: 'alice', password: 'secret' }]]), uploadChunkBytes: 64 * 1024 });
  const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
  const layer = randomBytes(300_000);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  await c.put({ url: `oci://${reg.host}/team/pushed/blobs/${sha(layer)}` }, Readable.from([layer.subarray(0, 100_000), layer.subarray(100_000)]));
  await c.put({ url: `oci://${reg.host}/team/pushed/blobs/${sha(config)}`, contentLength: config.length }, Readable.from([config]));
  const patches = reg.requests().filter((r) => r.method === 'PATCH' && r.uri.startsWith('/v2/team/pushed/blobs/uploads/'));
  t.is(patches.length, 5, 'a blob of unknown size went up in 64 KiB chunks');
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(layer), size: layer.length }],
  }));
  await c.put({ url: `oci://${reg.host}/team/pushed:v1` }, Readable.from([manifest]));
  t.true((await bytesOf(c, { url: `oci://${reg.host}/team/pushed:v1` })).equals(manifest), 'the tag serves the manifest as pushed');
  t.true((await bytesOf(c, { url: `oci://${reg.host}/team/pushed/blobs/${sha(layer)}` })).equals(layer));

  const wrongManifest = await t.throwsAsync(c.put({ url: `oci://${reg.host}/team/pushed@sha256:${'a'.repeat(64)}` }, Readable.from([manifest])));
  t.true(isD7yError(wrongManifest) && wrongManifest.code === 'D7Y_DIGEST_MISMATCH');
  const wrongBlob = await t.throwsAsync(c.put({ url: `oci://${reg.host}/team/pushed/blobs/sha256:${'b'.repeat(64)}`, contentLength: 5 }, Readable.from([Buffer.from('hello')])));
  t.regex(wrongBlob?.message ?? '', /answered HTTP 400 for blob upload of .*DIGEST_INVALID/);
});

test('the plugin refuses unknown config keys and registers the oci scheme', (t) => {
  t.throws(() => plugin.parseConfig!({ insecureRegistries: ['127.0.0.1:5000'], bogus: 1 }));
  const config = plugin.parseConfig!({ insecureRegistries: ['127.0.0.1:5000'], auths: { '127.0.0.1:5000': { username: 'u', password: 'p' } } });
  const added: SourceClient[] = [];
  plugin.register({ config, sources: { add: (s: SourceClient) => added.push(s) }, lifecycle: { add: () => undefined } } as never);
  t.deepEqual(added.map((s) => s.schemes), [['oci']]);
  t.deepEqual(plugin.manifest.provides, ['source:oci']);
});
