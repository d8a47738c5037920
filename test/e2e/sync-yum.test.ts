import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tmpDir, walk } from '../support/env.js';
import { startStaticRepoServer } from '../support/static-repo-server.js';
import { dnfRepoquery, startYumRepo } from '../support/yum-repo.js';
import { syncCli } from '../support/sync-cli.js';

const run = promisify(execFile);

/**
 * `dnf install <pkg>` from the repository at `baseUrl` into a fresh --installroot (private config
 * and cache); returns the installroot. Without root rights dnf cannot install, so it then only
 * downloads the package into `<installroot>/downloaded`.
 */
async function dnfInstall(t: ExecutionContext, baseUrl: string, pkg: string): Promise<string> {
  const dir = await tmpDir(t, 'd7y-dnf-');
  await mkdir(join(dir, 'repos.d'));
  await writeFile(join(dir, 'repos.d/mirror.repo'), `[mirror]\nname=d7y mirror\nbaseurl=${baseUrl}/\nenabled=1\ngpgcheck=0\nmetadata_expire=0\n`);
  await writeFile(join(dir, 'dnf.conf'), `[main]\nreposdir=${join(dir, 'repos.d')}\ncachedir=${join(dir, 'cache')}\ninstallroot=${join(dir, 'root')}\ngpgcheck=0\n`);
  const only = process.getuid?.() === 0 ? [] : ['--downloadonly', `--downloaddir=${join(dir, 'root', 'downloaded')}`];
  await run('dnf', ['-y', '-q', '-c', join(dir, 'dnf.conf'), '--releasever=1', '--disablerepo=*', '--enablerepo=mirror', ...only, 'install', pkg], { timeout: 120_000 });
  return join(dir, 'root');
}

test('sync a YUM repository to a directory that dnf installs from; a second run copies nothing; a republished repository is followed', async (t) => {
  const repo = await startYumRepo(t);
  const dir = await tmpDir(t);
  const env = { D7Y_DATA_DIR: join(dir, 'data') };
  const mirror = join(dir, 'mirror');
  const args = [`yum://${new URL(repo.baseUrl).host}/?scheme=http`, mirror, '--delete'];
  const files = async (d: string) => (await walk(d)).filter((f) => !f.endsWith('.d7y-sync-partial'));

  const first = await syncCli(env, args);
  t.is(first.code, 0, first.stderr);
  t.deepEqual(await files(mirror), await files(repo.dir), 'the mirror holds every package and metadata file');
  t.like(first.report, { copied: (await files(repo.dir)).length, failed: 0 });

  const served = await startStaticRepoServer(t, { dir: mirror });
  const root = await dnfInstall(t, served.baseUrl, 'd7y-hello');
  if (process.getuid?.() === 0) {
    t.is(await readFile(join(root, 'opt/d7y-hello/version.txt'), 'utf8'), 'd7y-hello 1.1-1\n', 'dnf installed the newest d7y-hello from the mirror');
  } else {
    t.deepEqual(await readdir(join(root, 'downloaded')), ['d7y-hello-1.1-1.noarch.rpm'], 'dnf took the newest d7y-hello from the mirror');
  }
  t.is(served.requests.get('/Packages/d7y-hello-1.1-1.noarch.rpm'), 1, 'the package came from the mirror');

  const rpmGets = repo.requests.get('/Packages/d7y-hello-1.1-1.noarch.rpm');
  const second = await syncCli(env, args);
  t.is(second.code, 0, second.stderr);
  t.like(second.report, { copied: 0, bytes: 0, deleted: 0, failed: 0 });
  t.is(repo.requests.get('/Packages/d7y-hello-1.1-1.noarch.rpm'), rpmGets, 'no package was read again');

  await rm(join(repo.dir, 'Packages/d7y-hello-1.0-1.noarch.rpm'));
  await rm(join(repo.dir, 'repodata'), { recursive: true });
  await run('createrepo_c', ['--quiet', '--no-database', repo.dir], { timeout: 60_000 });
  const third = await syncCli(env, args);
  t.is(third.code, 0, third.stderr);
  const metadata = (await files(repo.dir)).filter((f) => f.startsWith('repodata/')).length;
  t.like(third.report, { copied: metadata, failed: 0 }, 'only the new metadata is copied');
  t.deepEqual(await files(mirror), await files(repo.dir), '--delete removed the withdrawn package and the old metadata');
  t.deepEqual(await dnfRepoquery(t, served.baseUrl), ['d7y-data-2.0-3.x86_64', 'd7y-hello-1.1-1.noarch']);
});
