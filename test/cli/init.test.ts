import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { chmod, chown, lstat, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { d7yBin, tmpDir } from '../support/env.js';
import { runCli } from '../support/run-cli.js';

const run = promisify(execFile);
const NOBODY = 65534;

async function put(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
}

/** A temp dir holding a containerd config.toml with `text`, and the certs.d path beside it (not created). */
async function containerdFiles(t: ExecutionContext, text: string): Promise<{ dir: string; config: string; certs: string }> {
  const dir = await tmpDir(t);
  const config = join(dir, 'config.toml');
  await put(config, text);
  return { dir, config, certs: join(dir, 'certs.d') };
}

/** The backups `d7y init` left beside `file`. */
async function backupsOf(file: string): Promise<string[]> {
  const names = await readdir(dirname(file));
  const base = file.slice(dirname(file).length + 1);
  return names.filter((n) => n.startsWith(`${base}.d7y-backup-`)).map((n) => join(dirname(file), n));
}

test('docker: the mirror goes first in registry-mirrors, every other key and mirror stays, the old file is kept with its mode and owner', async (t) => {
  const dir = await tmpDir(t);
  const file = join(dir, 'daemon.json');
  const old = '{"log-driver": "journald", "registry-mirrors": ["https://mirror.example.com"], "insecure-registries": ["10.0.0.1:5000"]}\n';
  await put(file, old);
  await chmod(file, 0o640);
  await chown(file, NOBODY, NOBODY);

  const r = await runCli(['init', 'docker', '--config-dir', dir]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /Docker Hub \(docker\.io\)/);
  t.regex(r.stdout, /mirrors Docker Hub only/);
  t.regex(r.stdout, /systemctl reload docker/);
  const doc = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  t.deepEqual(doc, {
    'log-driver': 'journald',
    'registry-mirrors': ['http://127.0.0.1:4001', 'https://mirror.example.com'],
    'insecure-registries': ['10.0.0.1:5000'],
  });
  const st = await stat(file);
  t.is(st.mode & 0o777, 0o640);
  t.is(st.uid, NOBODY);
  const [backup, ...more] = await backupsOf(file);
  t.deepEqual(more, []);
  t.is(await readFile(backup!, 'utf8'), old);
  t.true(r.stdout.includes(backup!), 'the output names the backup');

  const again = await runCli(['init', 'docker', '--config-dir', dir]);
  t.is(again.code, 0, again.stderr);
  t.regex(again.stdout, /unchanged\s+.*daemon\.json/);
  t.regex(again.stdout, /nothing to change/);
  t.is((await backupsOf(file)).length, 1, 'no second backup');
  t.is((await stat(file)).mtimeMs, st.mtimeMs, 'the file was not even rewritten');
});

test('docker: a corrupt daemon.json is refused, named, and left as it is', async (t) => {
  const dir = await tmpDir(t);
  const file = join(dir, 'daemon.json');
  await put(file, '{"log-driver": "journald",');
  const r = await runCli(['init', 'docker', '--config-dir', dir]);
  t.is(r.code, 2);
  t.true(r.stderr.includes(`d7y: ${file} is not valid JSON`), r.stderr);
  t.regex(r.stderr, /fix: correct .*daemon\.json \(or move it aside to start afresh\), then run d7y init docker again/);
  t.notRegex(r.stderr, /\n\s+at /, 'no stack trace');
  t.is(await readFile(file, 'utf8'), '{"log-driver": "journald",');
  t.deepEqual(await backupsOf(file), []);
});

test('docker: only Docker Hub can be mirrored, so another --registry is refused with the reason', async (t) => {
  const dir = await tmpDir(t);
  const r = await runCli(['init', 'docker', '--config-dir', dir, '--registry', 'quay.io']);
  t.is(r.code, 2);
  t.regex(r.stderr, /docker sends only Docker Hub \(docker\.io\) pulls to a registry mirror, not quay\.io/);
  t.deepEqual(await readdir(dir), []);
});

test('--dry-run shows the change as a diff and writes nothing; --json says the same', async (t) => {
  const dir = await tmpDir(t);
  const file = join(dir, 'daemon.json');
  await put(file, '{"debug": true}\n');
  const r = await runCli(['init', 'docker', '--config-dir', dir, '--proxy', '127.0.0.1:65001', '--dry-run']);
  t.is(r.code, 0, r.stderr);
  t.true(r.stdout.includes(`--- ${file}\n+++ ${file}\n`), r.stdout);
  t.regex(r.stdout, /^\+ {2}"registry-mirrors": \[$/m);
  t.regex(r.stdout, /^\+ {4}"http:\/\/127\.0\.0\.1:65001"$/m);
  t.regex(r.stdout, /would-update\s+.*daemon\.json/);
  t.regex(r.stdout, /dry run: nothing was written/);
  t.is(await readFile(file, 'utf8'), '{"debug": true}\n');
  t.deepEqual(await readdir(dir), ['daemon.json']);

  const j = await runCli(['init', 'containerd', '--config-dir', join(dir, 'certs.d'), '--containerd-config', join(dir, 'config.toml'), '--dry-run', '--json']);
  t.is(j.code, 0, j.stderr);
  const report = JSON.parse(j.stdout) as { dryRun: boolean; changed: boolean; files: { path: string; action: string; diff: string }[]; restart: string };
  t.true(report.dryRun && report.changed);
  t.deepEqual(report.files.map((f) => f.action), ['would-create', 'would-create']);
  t.true(report.files[0]!.diff.includes('+[host."http://127.0.0.1:4001"]'), report.files[0]!.diff);
  t.regex(report.restart, /systemctl restart containerd/);
  t.deepEqual(await readdir(dir), ['daemon.json'], 'nothing was written');
});

test('containerd: a version 3 config gets config_path under the io.containerd.cri.v1.images plugin, other settings kept', async (t) => {
  const { config, certs } = await containerdFiles(t, 'version = 3\nroot = "/var/lib/containerd"\n\n[plugins."io.containerd.cri.v1.images"]\n  snapshotter = "overlayfs"\n');
  const r = await runCli(['init', 'containerd', '--config-dir', certs, '--containerd-config', config, '--registry', 'docker.io']);
  t.is(r.code, 0, r.stderr);
  const text = await readFile(config, 'utf8');
  t.regex(text, /^version = 3$/m);
  t.regex(text, /^root = "\/var\/lib\/containerd"$/m);
  t.regex(text, /\[plugins\."io\.containerd\.cri\.v1\.images"\]\nsnapshotter = "overlayfs"/);
  t.true(text.includes(`[plugins."io.containerd.cri.v1.images".registry]\nconfig_path = "${certs}"`), text);
  t.false(text.includes('io.containerd.grpc.v1.cri'));
  const hub = await readFile(join(certs, 'docker.io/hosts.toml'), 'utf8');
  t.regex(hub, /^server = "https:\/\/registry-1\.docker\.io"$/m, 'containerd pulls docker.io from registry-1.docker.io');
  t.regex(hub, /\[host\."http:\/\/127\.0\.0\.1:4001"\]\ncapabilities = \[ "pull", "resolve" \]/);
  t.regex(hub, /\[host\."http:\/\/127\.0\.0\.1:4001"\.header\]\nX-Dragonfly-Registry = "https:\/\/registry-1\.docker\.io"/);
});

test('containerd: an existing config_path is where the files go; another --config-dir is refused', async (t) => {
  const dir = await tmpDir(t);
  const config = join(dir, 'config.toml');
  const theirs = join(dir, 'their-certs.d');
  const original = `version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "${theirs}:/etc/docker/certs.d"\n`;
  await put(config, original);
  const r = await runCli(['init', 'containerd', '--containerd-config', config]);
  t.is(r.code, 0, r.stderr);
  t.regex(await readFile(join(theirs, '_default/hosts.toml'), 'utf8'), /\[host\."http:\/\/127\.0\.0\.1:4001"\]/);
  t.is(await readFile(config, 'utf8'), original, 'config.toml already right: untouched');
  t.notRegex(r.stdout, /restart containerd/, 'hosts.toml files need no restart');

  const other = await runCli(['init', 'containerd', '--containerd-config', config, '--config-dir', join(dir, 'mine')]);
  t.is(other.code, 1);
  t.true(other.stderr.includes(`already reads hosts.toml files from ${theirs}`), other.stderr);
  t.true(other.stderr.includes(`fix: run d7y init containerd --config-dir ${theirs}`), other.stderr);
});

test('containerd: a relative --config-dir is written to config_path as an absolute path; a symlinked config.toml stays a symlink', async (t) => {
  const { dir, config, certs } = await containerdFiles(t, 'version = 2\n');
  const link = join(dir, 'link.toml');
  await symlink(config, link);
  const r = await runCli(['init', 'containerd', '--config-dir', 'certs.d', '--containerd-config', 'link.toml'], { cwd: dir });
  t.is(r.code, 0, r.stderr);
  t.true((await lstat(link)).isSymbolicLink());
  t.true((await readFile(config, 'utf8')).includes(`config_path = "${certs}"`));
  t.is((await backupsOf(config)).length, 1, 'the backup sits beside the real file');
});

test('containerd: the deprecated registry.mirrors is refused (containerd would reject config_path beside it)', async (t) => {
  const { dir, config, certs } = await containerdFiles(t, 'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]\n  endpoint = ["https://mirror.example.com"]\n');
  const r = await runCli(['init', 'containerd', '--config-dir', certs, '--containerd-config', config]);
  t.is(r.code, 2);
  t.regex(r.stderr, /sets plugins\."io\.containerd\.grpc\.v1\.cri"\.registry\.mirrors, which containerd refuses together with config_path/);
  t.regex(r.stderr, /fix: move those mirrors into hosts\.toml files/);
  t.deepEqual((await readdir(dir)).sort(), ['config.toml'], 'nothing written');
});

test('containerd: a corrupt config.toml is refused with its line; an existing _default keeps its other mirrors after ours', async (t) => {
  const { config, certs } = await containerdFiles(t, 'version = 2\n[plugins\nfoo = 1\n');
  const bad = await runCli(['init', 'containerd', '--config-dir', certs, '--containerd-config', config]);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /config\.toml is not valid TOML: line 2/);

  await put(config, 'version = 2\n');
  const def = join(certs, '_default/hosts.toml');
  await put(def, '[host."https://mirror.example.com"]\n  capabilities = ["pull"]\n');
  const r = await runCli(['init', 'containerd', '--config-dir', certs, '--containerd-config', config]);
  t.is(r.code, 0, r.stderr);
  const text = await readFile(def, 'utf8');
  const ours = text.indexOf('[host."http://127.0.0.1:4001"]');
  const theirs = text.indexOf('[host."https://mirror.example.com"]');
  t.true(ours >= 0 && theirs > ours, `the peer's mirror is tried first, the other one after it:\n${text}`);
  t.is((await backupsOf(def)).length, 1);
});

test('podman: the drop-in carries over what registries.conf says about the registry; a v1 registries.conf is refused', async (t) => {
  const dir = await tmpDir(t);
  await put(join(dir, 'registries.conf'), 'unqualified-search-registries = ["docker.io"]\n\n[[registry]]\nprefix = "docker.io"\nlocation = "docker.io"\nmirror-by-digest-only = false\n\n[[registry.mirror]]\nlocation = "mirror.example.com"\n');
  const r = await runCli(['init', 'podman', '--config-dir', dir]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /no restart needed/);
  const dropIn = await readFile(join(dir, 'registries.conf.d/zz-d7y-mirror.conf'), 'utf8');
  t.regex(dropIn, /mirror-by-digest-only = false/);
  const ours = dropIn.indexOf('location = "127.0.0.1:4001"');
  t.true(ours > 0 && dropIn.indexOf('location = "mirror.example.com"') > ours, dropIn);
  t.is(await readFile(join(dir, 'registries.conf'), 'utf8').then((s) => s.includes('127.0.0.1')), false, 'registries.conf itself is not touched');

  const v1 = await tmpDir(t);
  await put(join(v1, 'registries.conf'), '[registries.search]\nregistries = ["docker.io"]\n');
  const refused = await runCli(['init', 'podman', '--config-dir', v1]);
  t.is(refused.code, 2);
  t.regex(refused.stderr, /version 1 format/);
});

test('podman: one mirror address serves one registry, so a second registry is refused', async (t) => {
  const dir = await tmpDir(t);
  const two = await runCli(['init', 'podman', '--config-dir', dir, '--registry', 'docker.io', '--registry', 'quay.io']);
  t.is(two.code, 2);
  t.regex(two.stderr, /cannot send more than one registry through one mirror address/);
  t.is((await runCli(['init', 'podman', '--config-dir', dir, '--registry', 'docker.io'])).code, 0);
  const later = await runCli(['init', 'podman', '--config-dir', dir, '--registry', 'quay.io']);
  t.is(later.code, 1);
  t.regex(later.stderr, /already sends docker\.io through the mirror at 127\.0\.0\.1:4001/);
});

test('an unknown runtime, a bad --proxy and a folder the user cannot write are clear errors', async (t) => {
  const unknown = await runCli(['init', 'rkt']);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /d7y: unknown container runtime "rkt"\n {2}fix: use one of: containerd, cri-o, podman, docker/);
  const proxy = await runCli(['init', 'docker', '--proxy', 'https://127.0.0.1:4001', '--config-dir', '/nonexistent']);
  t.is(proxy.code, 2);
  t.regex(proxy.stderr, /must be plain http/);

  const dir = await tmpDir(t);
  await chmod(dir, 0o755);
  const asNobody = await run(process.execPath, [d7yBin, 'init', 'docker', '--config-dir', dir], { uid: NOBODY, gid: NOBODY }).then(
    () => ({ code: 0, stderr: '' }),
    (err: { code: number; stderr: string }) => err,
  );
  t.is(asNobody.code, 1);
  t.true(asNobody.stderr.includes(`d7y: cannot write ${join(dir, 'daemon.json')}: permission denied`), asNobody.stderr);
  t.regex(asNobody.stderr, /fix: run the command as root \(sudo d7y init \.\.\.\)/);
});

test('-c takes the mirror address from the node config\'s peer.proxy.listen; a config with the proxy off is refused with the fix', async (t) => {
  const dir = await tmpDir(t);
  const on = join(dir, 'node.yaml');
  await writeFile(on, `dataDir: ${join(dir, 'data')}\npeer:\n  proxy:\n    listen: { ip: 0.0.0.0, port: 4555 }\n`);
  const r = await runCli(['init', 'docker', '--config-dir', join(dir, 'docker'), '-c', on, '--dry-run', '--json']);
  t.is(r.code, 0, r.stderr);
  t.is((JSON.parse(r.stdout) as { proxy: string }).proxy, 'http://127.0.0.1:4555', 'a peer listening on every address is reached on loopback');
  const off = join(dir, 'off.yaml');
  await writeFile(off, `dataDir: ${join(dir, 'data')}\npeer:\n  proxy: { enabled: false }\n`);
  const refused = await runCli(['init', 'docker', '--config-dir', join(dir, 'docker'), '-c', off]);
  t.is(refused.code, 2);
  t.regex(refused.stderr, /has its proxy off \(peer\.proxy\.enabled: false\)/);
  t.regex(refused.stderr, /fix: set peer\.proxy\.enabled to true/);
});
