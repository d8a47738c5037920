import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { isD7yError, type DownloadRequest, type SourceClient, type SourceEntry } from '../../core/index.js';
import { sourceClientContract } from '../../core/testing/source-client-contract.js';
import { tmpDir } from '../../test/support/env.js';
import { startStaticRepoServer } from '../../test/support/static-repo-server.js';
import { dnfRepoquery, startYumRepo, writeRepodata } from '../../test/support/yum-repo.js';
import plugin, { rpmVersionCompare, YumSourceClient } from './index.js';

const NEVRAS = ['d7y-data-2.0-3.x86_64', 'd7y-hello-1.0-1.noarch', 'd7y-hello-1.1-1.noarch'];

function client(t: import('ava').ExecutionContext): YumSourceClient {
  const c = new YumSourceClient({ timeoutMs: 10_000, arches: ['x86_64', 'noarch'] });
  t.teardown(() => c.close());
  return c;
}

async function bytesOf(c: SourceClient, req: DownloadRequest): Promise<Buffer> {
  const dl = await c.download(req);
  const chunks: Buffer[] = [];
  for await (const ch of dl.stream) chunks.push(ch as Buffer);
  return Buffer.concat(chunks);
}

async function listAll(c: SourceClient, url: string): Promise<SourceEntry[]> {
  const out: SourceEntry[] = [];
  for await (const e of c.list!({ url })) out.push(e);
  return out;
}

const repoUrl = (baseUrl: string, pkg = '') => `yum://${new URL(baseUrl).host}/${pkg}?scheme=http`;

sourceClientContract(test, {
  name: 'yum (static repository)',
  objectSize: 3 * 1024 * 1024,
  async setup(t) {
    const dir = await tmpDir(t, 'd7y-yum-contract-');
    const repoDir = join(dir, 'el/9/x86_64');
    await mkdir(join(repoDir, 'Packages'), { recursive: true });
    await writeRepodata(repoDir);
    const server = await startStaticRepoServer(t, { dir });
    const name = (key: string) => `c-${key.replace(/[^A-Za-z0-9]+/g, '_')}`;
    const host = new URL(server.baseUrl).host;
    return {
      client: client(t),
      urlOf: (key) => `yum://${host}/el/9/x86_64/${name(key)}?scheme=http`,
      missingUrl: `yum://${host}/el/9/x86_64/no-such-pkg?scheme=http`,
      async seed(key, bytes) {
        await writeFile(join(repoDir, 'Packages', `${name(key)}-1.0-1.noarch.rpm`), bytes);
        await writeRepodata(repoDir);
      },
    };
  },
});

for (const compression of ['gz', 'xz', 'zst'] as const) {
  test(`${compression} metadata: list has what createrepo_c indexed, packages resolve by name, NEVR, arch and file name`, async (t) => {
    const repo = await startYumRepo(t, compression);
    const c = client(t);
    const entries = await listAll(c, repoUrl(repo.baseUrl));
    const repodata = (await readdir(join(repo.dir, 'repodata'))).map((f) => `repodata/${f}`);
    t.deepEqual(entries.map((e) => e.path).sort(), [...NEVRAS.map((n) => `Packages/${n}.rpm`), ...repodata].sort(), 'packages and every metadata file');
    t.like(entries.at(-1), { path: 'repodata/repomd.xml', phase: 1 }, 'repomd.xml last, in a later phase than what it lists');
    for (const e of entries.filter((x) => x.path.startsWith('repodata/'))) t.true((await bytesOf(c, { url: e.url })).equals(await readFile(join(repo.dir, e.path))), e.path);
    if (compression === 'gz') {
      const other = entries.find((e) => e.path.includes('-other.xml'))!;
      await writeFile(join(repo.dir, other.path), 'republished since the listing');
      await t.throwsAsync(bytesOf(c, { url: other.url }), { message: /sha256 of the received bytes is [0-9a-f]+, expected/ }, 'a metadata file changed since the listing is refused');
    }
    if (compression === 'gz') t.deepEqual(await dnfRepoquery(t, repo.baseUrl), NEVRAS, 'dnf reads the same repository');
    const file = (n: string) => readFile(join(repo.dir, 'Packages', `${n}.rpm`));
    const cases: [string, string][] = [
      ['d7y-hello', 'd7y-hello-1.1-1.noarch'],
      ['d7y-hello-1.0', 'd7y-hello-1.0-1.noarch'],
      ['d7y-hello-1.0-1.noarch.rpm', 'd7y-hello-1.0-1.noarch'],
      ['d7y-data.x86_64', 'd7y-data-2.0-3.x86_64'],
    ];
    for (const [spec, nevra] of cases) t.true((await bytesOf(c, { url: repoUrl(repo.baseUrl, spec) })).equals(await file(nevra)), spec);
    const hello = entries.find((e) => e.path.endsWith('d7y-hello-1.0-1.noarch.rpm'))!;
    const st = await c.stat({ url: hello.url });
    t.is(st.contentLength, (await file('d7y-hello-1.0-1.noarch')).length);
    t.is(st.digest, hello.digest);
    t.regex(st.digest ?? '', /^sha256:[0-9a-f]{64}$/);
  });
}

test('a tampered rpm is detected by the checksum of the primary metadata', async (t) => {
  const repo = await startYumRepo(t);
  const path = join(repo.dir, 'Packages/d7y-hello-1.1-1.noarch.rpm');
  const bytes = await readFile(path);
  bytes[bytes.length - 100] ^= 0xff;
  await writeFile(path, bytes);
  const err = await t.throwsAsync(bytesOf(client(t), { url: repoUrl(repo.baseUrl, 'd7y-hello') }));
  t.true(isD7yError(err, 'D7Y_DIGEST_MISMATCH'), String(err));
  t.regex(err!.message, /d7y-hello-1\.1-1\.noarch/);
});

test('bad input: malformed URLs show the grammar; unknown packages and repositories are not found', async (t) => {
  const repo = await startYumRepo(t);
  const c = client(t);
  for (const url of ['yum://', 'yum://host/repo/pkg?colour=red', 'yum://host/repo/pkg?scheme=ftp', 'yum://u:p@host/repo/pkg', 'yum://host/../x/pkg', 'yum://host/repo/bad name']) {
    const err = await t.throwsAsync(c.stat({ url }));
    t.true(isD7yError(err, 'D7Y_INVALID_ARGUMENT'), url);
    t.true(err!.message.includes('yum://<host>[:<port>]/<repository path>/<package>'), url);
    t.false(err!.message.includes('u:p@'));
  }
  const pkg = await t.throwsAsync(c.stat({ url: repoUrl(repo.baseUrl, 'd7y-nothing') }));
  t.true(isD7yError(pkg, 'D7Y_SOURCE_NOT_FOUND'));
  t.regex(pkg!.message, /d7y-nothing not found in repository/);
  const version = await t.throwsAsync(c.stat({ url: repoUrl(repo.baseUrl, 'd7y-hello-9.9') }));
  t.true(isD7yError(version, 'D7Y_SOURCE_NOT_FOUND'));
  t.regex(version!.message, /similar: .*d7y-hello-1\.1-1\.noarch/);
  const noRepo = await t.throwsAsync(listAll(c, `yum://${new URL(repo.baseUrl).host}/not/a/repo/?scheme=http`));
  t.true(isD7yError(noRepo, 'D7Y_SOURCE_NOT_FOUND'));
  t.regex(noRepo!.message, /repomd\.xml/);
});

test('rpm version order', (t) => {
  t.true(rpmVersionCompare('1.10', '1.9') > 0);
  t.true(rpmVersionCompare('1.0~rc1', '1.0') < 0);
  t.true(rpmVersionCompare('2.0a', '2.0') > 0);
  t.is(rpmVersionCompare('1.01', '1.1'), 0);
});

test('the yum plugin refuses unknown config keys and registers the yum scheme', (t) => {
  t.throws(() => plugin.parseConfig!({ mirrors: [] }));
  const config = plugin.parseConfig!({ credentials: [{ url: 'https://repo.example/el9', username: 'u', password: 'p' }] });
  const added: SourceClient[] = [];
  plugin.register({ config, sources: { add: (s: SourceClient) => added.push(s) }, lifecycle: { add: () => undefined } } as never);
  t.deepEqual(added.map((s) => s.schemes), [['yum']]);
});
