import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { freePort, tmpDir } from '../support/env.js';
import { startMavenRepo } from '../support/maven-repo.js';
import { runCli } from '../support/run-cli.js';
import { startYumRepo } from '../support/yum-repo.js';
import { P2PCluster } from './p2p-cluster.js';

const run = promisify(execFile);
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A lone peer (no scheduler: it reads the origin itself) whose proxy sends `p2p` URLs through its cache. */
async function proxyPeer(t: Parameters<typeof P2PCluster.create>[0], p2p: string): Promise<{ proxy: number; socket: string }> {
  const cluster = await P2PCluster.create(t);
  const port = await freePort();
  const peer = await cluster.peer('peer', { peer: { proxy: { listen: { port }, rules: [{ regex: p2p, use: 'p2p' }] } } });
  return { proxy: port, socket: peer.socket };
}

async function heldUrls(socket: string): Promise<string[]> {
  const ls = await runCli(['task', 'ls', '--json', '--socket', socket]);
  return (JSON.parse(ls.stdout) as { url?: string }[]).map((task) => task.url ?? '');
}

test('dnf with proxy= in the repo file: packages come through the peer, metadata direct; a second dnf is served from the peer', async (t) => {
  const repo = await startYumRepo(t);
  const { proxy, socket } = await proxyPeer(t, '\\.rpm$');
  const download = async (name: string): Promise<Buffer> => {
    const dir = await tmpDir(t, 'd7y-dnf-');
    await mkdir(join(dir, 'repos.d'));
    await writeFile(join(dir, 'repos.d/d7y.repo'), `[d7ytest]\nname=d7y test\nbaseurl=${repo.baseUrl}/\nproxy=http://127.0.0.1:${proxy}\nenabled=1\ngpgcheck=0\nmetadata_expire=0\n`);
    await writeFile(join(dir, 'dnf.conf'), `[main]\nreposdir=${join(dir, 'repos.d')}\ncachedir=${join(dir, 'cache')}\ninstallroot=${join(dir, 'root')}\ngpgcheck=0\nkeepcache=1\n`);
    await run('dnf', ['-q', '-y', '-c', join(dir, 'dnf.conf'), '--releasever=1', '--disablerepo=*', '--enablerepo=d7ytest', '--downloadonly',
      `--downloaddir=${join(dir, 'out')}`, 'install', name], { timeout: 120_000 });
    const [rpm] = (await readdir(join(dir, 'out'))).filter((f) => f.endsWith('.rpm'));
    return readFile(join(dir, 'out', rpm!));
  };
  const rpmPath = '/Packages/d7y-hello-1.1-1.noarch.rpm';
  const first = await download('d7y-hello');
  t.is(sha256(first), sha256(await readFile(join(repo.dir, rpmPath))), 'dnf got the package byte-exact (and checked it against the metadata)');
  t.true((await heldUrls(socket)).includes(`${repo.baseUrl}${rpmPath}`), 'the package went through the peer');
  const seen = repo.requests.get(rpmPath);
  const second = await download('d7y-hello');
  t.true(second.equals(first));
  t.is(repo.requests.get(rpmPath), seen, 'the second dnf was served from the peer: the repository was not asked again');
});

/** A project that depends on the fixture's jar, with the plugin versions the local Maven cache holds. */
const POM = `<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>org.d7y.test</groupId><artifactId>consumer</artifactId><version>1</version>
<properties><maven.compiler.source>17</maven.compiler.source><maven.compiler.target>17</maven.compiler.target><project.build.sourceEncoding>UTF-8</project.build.sourceEncoding></properties>
<dependencies><dependency><groupId>org.d7y.fixture</groupId><artifactId>tiny</artifactId><version>1.0.0</version></dependency></dependencies>
<build><pluginManagement><plugins>
<plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-resources-plugin</artifactId><version>3.3.1</version></plugin>
<plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-compiler-plugin</artifactId><version>3.13.0</version></plugin>
</plugins></pluginManagement></build></project>
`;

test('mvn with a proxy in settings.xml: the jar comes through the peer, byte-exact, and once from the repository', async (t) => {
  const repo = await startMavenRepo(t);
  const { proxy, socket } = await proxyPeer(t, '\\.jar$');
  const dir = await tmpDir(t, 'd7y-mvn-');
  const settings = join(dir, 'settings.xml');
  await writeFile(settings, `<settings><mirrors><mirror><id>fixture</id><mirrorOf>*</mirrorOf><url>${repo.baseUrl}/</url></mirror></mirrors>
<proxies><proxy><id>d7y</id><active>true</active><protocol>http</protocol><host>127.0.0.1</host><port>${proxy}</port><nonProxyHosts>none.invalid</nonProxyHosts></proxy></proxies></settings>\n`);
  await writeFile(join(dir, 'pom.xml'), POM);
  const local = join(homedir(), '.m2/repository/org/d7y/fixture');
  const jarPath = '/org/d7y/fixture/tiny/1.0.0/tiny-1.0.0.jar';
  const get = async (): Promise<Buffer> => {
    await rm(local, { recursive: true, force: true });
    await run('mvn', ['-B', '-q', '-s', settings, 'compile'], { cwd: dir, timeout: 180_000 });
    const jar = await readFile(join(local, 'tiny/1.0.0/tiny-1.0.0.jar'));
    await rm(local, { recursive: true, force: true });
    return jar;
  };
  t.teardown(() => rm(local, { recursive: true, force: true }));
  const first = await get();
  t.is(sha256(first), sha256(await readFile(join(repo.dir, jarPath))), 'mvn got the jar byte-exact (and checked its .sha1)');
  t.true((await heldUrls(socket)).includes(`${repo.baseUrl}${jarPath}`), 'the jar went through the peer');
  const seen = repo.requests.get(jarPath);
  const second = await get();
  t.true(second.equals(first));
  t.is(repo.requests.get(jarPath), seen, 'the second build was served from the peer: the repository was not asked again');
});
