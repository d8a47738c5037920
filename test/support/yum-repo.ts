import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import type { ExecutionContext } from 'ava';
import { cachedFixture } from './artifact-fixture.js';
import { tmpDir } from './env.js';
import { startStaticRepoServer, type StaticRepoServer } from './static-repo-server.js';

const run = promisify(execFile);

export interface YumRepo extends StaticRepoServer {
  /** The repository's directory (a private copy: tests may change files in it). */
  readonly dir: string;
}

/**
 * Serves a private copy of a repository built by test/fixtures/artifacts/build-yum-repo.sh
 * (rpmbuild + createrepo_c; metadata compressed with `compression`) over HTTP on 127.0.0.1.
 */
export async function startYumRepo(t: ExecutionContext, compression: 'gz' | 'xz' | 'zst' = 'gz'): Promise<YumRepo> {
  const fixture = await cachedFixture('build-yum-repo.sh');
  const dir = join(await tmpDir(t, 'd7y-yum-'), 'repo');
  await cp(join(fixture, `repo-${compression}`), dir, { recursive: true });
  const server = await startStaticRepoServer(t, { dir });
  return { ...server, requests: server.requests, dir };
}

/**
 * Writes repodata (repomd.xml + gzip primary.xml) for every file under `<dir>/Packages/` named
 * `<name>-<version>-<release>.<arch>.rpm`, whatever its content: a repository the yum source reads
 * like any other, for tests that need arbitrary bytes as packages.
 */
export async function writeRepodata(dir: string): Promise<void> {
  const files = (await readdir(join(dir, 'Packages')).catch(() => [] as string[])).filter((f) => f.endsWith('.rpm')).sort();
  const entries: string[] = [];
  for (const f of files) {
    const m = /^(.+)-([^-]+)-([^-]+)\.([^.]+)\.rpm$/.exec(f);
    if (!m) continue;
    const [, name, ver, rel, arch] = m as unknown as [string, string, string, string, string];
    const { createReadStream } = await import('node:fs');
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(join(dir, 'Packages', f))) hash.update(chunk as Buffer);
    const size = (await stat(join(dir, 'Packages', f))).size;
    entries.push(`<package type="rpm"><name>${name}</name><arch>${arch}</arch><version epoch="0" ver="${ver}" rel="${rel}"/>`
      + `<checksum type="sha256" pkgid="YES">${hash.digest('hex')}</checksum><size package="${size}"/><location href="Packages/${f}"/></package>`);
  }
  const primary = gzipSync(`<?xml version="1.0" encoding="UTF-8"?>\n<metadata xmlns="http://linux.duke.edu/metadata/common" packages="${entries.length}">\n${entries.join('\n')}\n</metadata>\n`);
  const sum = createHash('sha256').update(primary).digest('hex');
  await mkdir(join(dir, 'repodata'), { recursive: true });
  await writeFile(join(dir, 'repodata', `${sum}-primary.xml.gz`), primary);
  await writeFile(join(dir, 'repodata/repomd.xml'), `<?xml version="1.0" encoding="UTF-8"?>\n<repomd xmlns="http://linux.duke.edu/metadata/repo"><revision>${Date.now()}</revision>`
    + `<data type="primary"><checksum type="sha256">${sum}</checksum><location href="repodata/${sum}-primary.xml.gz"/><size>${primary.length}</size></data></repomd>\n`);
}

/** `dnf repoquery` of the repository at `baseUrl` with a private config and cache: NEVRAs, sorted. */
export async function dnfRepoquery(t: ExecutionContext, baseUrl: string): Promise<string[]> {
  const dir = await tmpDir(t, 'd7y-dnf-');
  await mkdir(join(dir, 'repos.d'));
  await writeFile(join(dir, 'repos.d/d7y.repo'), `[d7ytest]\nname=d7y test\nbaseurl=${baseUrl}/\nenabled=1\ngpgcheck=0\nmetadata_expire=0\n`);
  await writeFile(join(dir, 'dnf.conf'), `[main]\nreposdir=${join(dir, 'repos.d')}\ncachedir=${join(dir, 'cache')}\ninstallroot=${join(dir, 'root')}\ngpgcheck=0\n`);
  const { stdout } = await run('dnf', ['-q', '-c', join(dir, 'dnf.conf'), '--releasever=1', '--disablerepo=*', '--enablerepo=d7ytest', 'repoquery', '--qf', '%{name}-%{version}-%{release}.%{arch}'], { timeout: 60_000 });
  return stdout.split('\n').map((s) => s.trim()).filter(Boolean).sort();
}
