import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import test from 'ava';
import { isD7yError, type DownloadRequest, type SourceClient, type SourceEntry } from '../../core/index.js';
import { sourceClientContract } from '../../core/testing/source-client-contract.js';
import { tmpDir } from '../../test/support/env.js';
import { startMavenRepo } from '../../test/support/maven-repo.js';
import { startStaticRepoServer } from '../../test/support/static-repo-server.js';
import plugin, { MavenSourceClient, type MavenSourceOptions } from './index.js';

const TINY = 'org/d7y/fixture/tiny';

function client(t: import('ava').ExecutionContext, opts: MavenSourceOptions = {}): MavenSourceClient {
  const c = new MavenSourceClient({ timeoutMs: 10_000, ...opts });
  t.teardown(() => c.close());
  return c;
}

async function bytesOf(c: SourceClient, req: DownloadRequest): Promise<Buffer> {
  const dl = await c.download(req);
  const chunks: Buffer[] = [];
  for await (const ch of dl.stream) chunks.push(ch as Buffer);
  return Buffer.concat(chunks);
}

async function listAll(c: SourceClient, url: string, recursive = false): Promise<SourceEntry[]> {
  const out: SourceEntry[] = [];
  for await (const e of c.list!({ url, recursive })) out.push(e);
  return out;
}

sourceClientContract(test, {
  name: 'maven (static repository)',
  objectSize: 3 * 1024 * 1024,
  async setup(t) {
    const dir = await tmpDir(t, 'd7y-maven-contract-');
    const server = await startStaticRepoServer(t, { dir });
    const artifact = (key: string) => key.replace(/[^A-Za-z0-9]+/g, '-');
    const repo = `?repo=${encodeURIComponent(server.baseUrl)}`;
    return {
      client: client(t),
      urlOf: (key) => `maven://org.d7y.contract:${artifact(key)}:1.0@bin${repo}`,
      missingUrl: `maven://org.d7y.contract:missing:1.0@bin${repo}`,
      missingName: 'missing-1.0.bin',
      async seed(key, bytes) {
        const file = join(dir, 'org/d7y/contract', artifact(key), '1.0', `${artifact(key)}-1.0.bin`);
        await mkdir(dirname(file), { recursive: true });
        await writeFile(file, bytes);
        await writeFile(`${file}.sha256`, createHash('sha256').update(bytes).digest('hex'));
      },
    };
  },
});

test('release, classifier, SNAPSHOT, timestamped, LATEST and RELEASE resolve to the files mvn deployed', async (t) => {
  const repo = await startMavenRepo(t);
  const c = client(t, { repositories: [{ url: repo.baseUrl }] });
  const file = (p: string) => readFile(join(repo.dir, TINY, p));
  const snaps = (await readdir(join(repo.dir, TINY, '2.0-SNAPSHOT'))).filter((f) => /\.jar$/.test(f)).sort();
  t.is(snaps.length, 3, 'three snapshot builds were deployed');
  const cases: [string, Buffer][] = [
    ['maven://org.d7y.fixture:tiny:1.0.0', await file('1.0.0/tiny-1.0.0.jar')],
    ['maven://org.d7y.fixture:tiny:1.0.0:sources', await file('1.0.0/tiny-1.0.0-sources.jar')],
    ['maven://org.d7y.fixture:tiny:1.0.0@pom', await file('1.0.0/tiny-1.0.0.pom')],
    ['maven://org.d7y.fixture:tiny:2.0-SNAPSHOT', await file(`2.0-SNAPSHOT/${snaps[2]}`)],
    [`maven://org.d7y.fixture:tiny:${snaps[0]!.replace(/^tiny-|\.jar$/g, '')}`, await file(`2.0-SNAPSHOT/${snaps[0]}`)],
    ['maven://org.d7y.fixture:tiny:LATEST', await file(`2.0-SNAPSHOT/${snaps[2]}`)],
    ['maven://org.d7y.fixture:tiny:RELEASE', await file('1.1.0/tiny-1.1.0.jar')],
  ];
  for (const [url, want] of cases) t.true((await bytesOf(c, { url })).equals(want), url);
  const st = await c.stat({ url: 'maven://org.d7y.fixture:tiny:1.0.0' });
  const jar = await file('1.0.0/tiny-1.0.0.jar');
  t.is(st.contentLength, jar.length);
  t.is(st.digest, `sha256:${createHash('sha256').update(jar).digest('hex')}`, 'the published .sha256 is the stat digest');
});

test('a wrong checksum on the server is D7Y_DIGEST_MISMATCH, and the strongest checksum file is the one checked', async (t) => {
  const repo = await startMavenRepo(t);
  const c = client(t, { repositories: [{ url: repo.baseUrl }] });
  const jar110 = join(repo.dir, TINY, '1.1.0/tiny-1.1.0.jar');
  const bytes = await readFile(jar110);
  bytes[100] ^= 0xff;
  await writeFile(jar110, bytes);
  const err = await t.throwsAsync(bytesOf(c, { url: 'maven://org.d7y.fixture:tiny:1.1.0' }));
  t.true(isD7yError(err, 'D7Y_DIGEST_MISMATCH'), String(err));
  t.regex(err!.message, /sha1 .*tiny-1\.1\.0\.jar|tiny-1\.1\.0\.jar.*sha1/);

  await writeFile(join(repo.dir, TINY, '1.0.0/tiny-1.0.0.jar.sha512'), 'ab'.repeat(64));
  const strong = await t.throwsAsync(bytesOf(c, { url: 'maven://org.d7y.fixture:tiny:1.0.0' }));
  t.true(isD7yError(strong, 'D7Y_DIGEST_MISMATCH'), 'the .sha512 wins over the still-correct .sha1 and .sha256');
  t.regex(strong!.message, /sha512/);
  const ranged = await bytesOf(c, { url: 'maven://org.d7y.fixture:tiny:1.0.0', range: { start: 10, length: 100 } });
  t.is(ranged.length, 100, 'a ranged read is not checked against the whole-file checksum');
});

test('list gives the versions of an artifact and the files of a version', async (t) => {
  const repo = await startMavenRepo(t);
  const c = client(t);
  const q = `?repo=${encodeURIComponent(repo.baseUrl)}`;
  const versions = await listAll(c, `maven://org.d7y.fixture:tiny${q}`);
  t.deepEqual(versions.map((e) => [e.path, e.isDirectory]), [['1.0.0', true], ['1.1.0', true], ['2.0-SNAPSHOT', true]]);
  const release = await listAll(c, `maven://org.d7y.fixture:tiny:1.0.0${q}`);
  t.deepEqual(release.map((e) => e.path).sort(), ['tiny-1.0.0-sources.jar', 'tiny-1.0.0.jar', 'tiny-1.0.0.pom']);
  const sources = release.find((e) => e.path === 'tiny-1.0.0-sources.jar')!;
  t.is(sources.contentLength, (await readFile(join(repo.dir, TINY, '1.0.0/tiny-1.0.0-sources.jar'))).length);
  t.true((await bytesOf(c, { url: sources.url })).equals(await readFile(join(repo.dir, TINY, '1.0.0/tiny-1.0.0-sources.jar'))), 'an entry url downloads');
  const all = await listAll(c, `maven://org.d7y.fixture:tiny${q}`, true);
  const snapshotFiles = all.filter((e) => e.path.startsWith('2.0-SNAPSHOT/') && !e.isDirectory).map((e) => e.path);
  t.is(snapshotFiles.length, 2, 'the latest snapshot build: jar and pom');
  t.true(snapshotFiles.every((p) => /-3\.(jar|pom)$/.test(p)));
});

test('basic auth: refused without or with wrong credentials, served with the configured ones', async (t) => {
  const repo = await startMavenRepo(t, { users: { deployer: 'mvn-s3cret' } });
  const url = 'maven://org.d7y.fixture:tiny:1.1.0';
  const anon = await t.throwsAsync(client(t, { repositories: [{ url: repo.baseUrl }] }).stat({ url }));
  t.true(isD7yError(anon, 'D7Y_SOURCE_AUTH'), String(anon));
  const wrong = await t.throwsAsync(client(t, { repositories: [{ url: repo.baseUrl, username: 'deployer', password: 'nope-pw' }] }).stat({ url }));
  t.true(isD7yError(wrong, 'D7Y_SOURCE_AUTH'));
  t.false(`${wrong!.message} ${(wrong as { fix?: string }).fix}`.includes('nope-pw'));
  const good = client(t, { repositories: [{ url: repo.baseUrl, username: 'deployer', password: 'mvn-s3cret' }] });
  t.true((await bytesOf(good, { url })).equals(await readFile(join(repo.dir, TINY, '1.1.0/tiny-1.1.0.jar'))));
});

test('bad input: malformed URLs show the grammar; unknown versions, artifacts and missing repositories are clear', async (t) => {
  const repo = await startMavenRepo(t);
  const c = client(t, { repositories: [{ url: `${repo.baseUrl}/nothing-here` }, { url: repo.baseUrl }] });
  for (const url of ['maven://org.d7y.fixture', 'maven://a:b:c:d:e', 'maven://a b:c:1', 'maven://g:a:1?repo=ftp://x', 'maven://g:a:1?colour=red']) {
    const err = await t.throwsAsync(c.stat({ url }));
    t.true(isD7yError(err, 'D7Y_INVALID_ARGUMENT'), url);
    t.true(err!.message.includes('maven://<groupId>:<artifactId>:<version>[:<classifier>][@<extension>]'), url);
  }
  t.is((await c.stat({ url: 'maven://org.d7y.fixture:tiny:1.1.0' })).contentLength, (await readFile(join(repo.dir, TINY, '1.1.0/tiny-1.1.0.jar'))).length, 'the second repository serves it');
  const version = await t.throwsAsync(c.stat({ url: 'maven://org.d7y.fixture:tiny:9.9.9' }));
  t.true(isD7yError(version, 'D7Y_SOURCE_NOT_FOUND'));
  t.true(version!.message.includes('org.d7y.fixture:tiny:9.9.9'), version!.message);
  const artifact = await t.throwsAsync(listAll(c, 'maven://org.d7y.fixture:nope'));
  t.true(isD7yError(artifact, 'D7Y_SOURCE_NOT_FOUND'));
  const noRepo = await t.throwsAsync(client(t).stat({ url: 'maven://org.d7y.fixture:tiny:1.1.0' }));
  t.true(isD7yError(noRepo, 'D7Y_INVALID_ARGUMENT'));
  t.regex(noRepo!.message, /no Maven repository/);
});

test('the maven plugin refuses unknown config keys and registers the maven scheme', (t) => {
  t.throws(() => plugin.parseConfig!({ repositories: [], extra: true }));
  t.throws(() => plugin.parseConfig!({ repositories: [{ url: 'ftp://x' }] }));
  const config = plugin.parseConfig!({ repositories: [{ url: 'http://127.0.0.1:1/repo', username: 'u', password: 'p' }] });
  const added: SourceClient[] = [];
  plugin.register({ config, sources: { add: (s: SourceClient) => added.push(s) }, lifecycle: { add: () => undefined } } as never);
  t.deepEqual(added.map((s) => s.schemes), [['maven']]);
});
