import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { text } from 'node:stream/consumers';
import { silentLogger } from '../../core/index.js';
import { Tokens, resolveToken } from '../../core/tokens.js';
import { loadNodeConfig } from '../../core/config/config-loader.js';
import { NodeRunner } from '../../plugins/index.js';
import { tmpDir } from '../support/env.js';
import { fixturePluginsDir } from '../support/plugin-sandbox.js';
import { runCli } from '../support/run-cli.js';

const run = promisify(execFile);

async function pack(fixture: string, dest: string): Promise<string> {
  const { stdout } = await run('npm', ['pack', join(fixturePluginsDir, fixture), '--pack-destination', dest, '--silent'], { timeout: 60_000 });
  return join(dest, stdout.trim().split('\n').pop() as string);
}

test('a packed out-of-tree plugin is installed, recorded once, resolved by a role, and removed', async (t) => {
  const dir = await tmpDir(t);
  const tgz = await pack('echo', dir);
  const pluginsFile = join(dir, 'plugins.json');
  const pluginDir = join(dir, 'plugins');
  await writeFile(pluginsFile, JSON.stringify({ plugins: [] }));
  const args = ['--plugins-file', pluginsFile, '--plugin-dir', pluginDir];

  const add = await runCli(['plugin', 'add', tgz, '--config', 'prefix=hi', '--roles', 'manager,peer', ...args], { cwd: dir, timeoutMs: 120_000 });
  t.is(add.code, 0, add.stderr);
  t.regex(add.stdout, /added plugin "echo" \(source 1\.0\.0, provides source:echo\)/);
  t.true(existsSync(join(pluginDir, 'node_modules/d7y-plugin-echo/index.js')));

  const again = await runCli(['plugin', 'add', tgz, '--no-install', '--roles', 'manager', ...args], { cwd: dir });
  t.is(again.code, 0, again.stderr);
  const recorded = JSON.parse(await readFile(pluginsFile, 'utf8')) as { plugins: { name: string; package: string; roles: string[] }[] };
  t.deepEqual(recorded.plugins, [{ name: 'echo', package: 'd7y-plugin-echo', roles: ['manager'] }]);

  const list = await runCli(['plugin', 'list', '--json', ...args], { cwd: dir });
  const listed = JSON.parse(list.stdout) as { name: string; status: string; provides: string[] }[];
  t.deepEqual(listed.map((p) => [p.name, p.status, p.provides]), [['echo', 'ok', ['source:echo']]]);

  const info = await runCli(['plugin', 'info', 'echo', '--json', ...args], { cwd: dir });
  t.is(info.code, 0, info.stderr);
  const described = JSON.parse(info.stdout) as { kind: string; provides: string[]; apiVersion: string; origin: string; description: string };
  t.deepEqual([described.kind, described.provides, described.apiVersion], ['source', ['source:echo'], '1']);
  t.regex(described.origin, /^d7y-plugin-echo@1\.0\.0 \(/);
  t.regex(described.description, /echo:\/\/<text>/);
  const verify = await runCli(['plugin', 'verify', 'echo', ...args], { cwd: dir });
  t.is(verify.code, 0, verify.stdout);
  t.regex(verify.stdout, /duplicate +manager +pass +no conflicts/);

  const config = await loadNodeConfig(undefined, { D7Y_DATA_DIR: join(dir, 'data'), D7Y_PLUGIN_DIR: pluginDir });
  const runner = new NodeRunner([{ role: 'manager', config }], silentLogger(), pluginsFile);
  const [composed] = await runner.compose();
  const router = resolveToken(composed.container, Tokens.SourceRouter);
  const download = await router.resolve('echo://hello%20d7y').download({ url: 'echo://hello%20d7y' });
  t.is(await text(download.stream), 'hello d7y');

  const removed = await runCli(['plugin', 'remove', 'echo', ...args], { cwd: dir, timeoutMs: 120_000 });
  t.is(removed.code, 0, removed.stderr);
  t.deepEqual((JSON.parse(await readFile(pluginsFile, 'utf8')) as { plugins: unknown[] }).plugins, []);
  t.false(existsSync(join(pluginDir, 'node_modules/d7y-plugin-echo')));
});

test('a plugin that fails verification leaves plugins.json untouched and is uninstalled again', async (t) => {
  const dir = await tmpDir(t);
  const tgz = await pack('throws', dir);
  const pluginsFile = join(dir, 'plugins.json');
  const pluginDir = join(dir, 'plugins');
  const before = `${JSON.stringify({ plugins: [], scheduler: { evaluator: 'default' } }, null, 4)}\n`;
  await writeFile(pluginsFile, before);
  const r = await runCli(['plugin', 'add', tgz, '--plugins-file', pluginsFile, '--plugin-dir', pluginDir], { cwd: dir, timeoutMs: 120_000 });
  t.is(r.code, 1);
  t.regex(r.stderr, /plugin "throws" \[register\] .*register\(\) threw: cannot reach the license server/);
  t.is(await readFile(pluginsFile, 'utf8'), before);
  t.false(existsSync(join(pluginDir, 'node_modules/d7y-plugin-throws')));
});

test('bad plugin add input gets one clear error and no stack trace', async (t) => {
  const dir = await tmpDir(t);
  const args = ['--plugins-file', join(dir, 'plugins.json'), '--plugin-dir', join(dir, 'plugins')];
  const badName = await runCli(['plugin', 'add', 'Bad Name!', ...args], { cwd: dir });
  t.is(badName.code, 2);
  t.regex(badName.stderr, /^d7y: "Bad Name!" is not a valid npm package name\n {2}fix: /);
  const missing = await runCli(['plugin', 'add', './nope.tgz', ...args], { cwd: dir });
  t.is(missing.code, 2);
  t.regex(missing.stderr, /nope\.tgz: no such file or directory/);
  const badRoles = await runCli(['plugin', 'add', join(fixturePluginsDir, 'echo'), '--no-install', '--roles', 'peer,janitor', ...args], { cwd: dir });
  t.is(badRoles.code, 2);
  t.regex(badRoles.stderr, /--roles: unknown role janitor/);
  const removeUnknown = await runCli(['plugin', 'remove', 'nothing', '--plugins-file', join(dir, 'x.json')], { cwd: dir });
  t.is(removeUnknown.code, 2);
  t.regex(removeUnknown.stderr, /cannot read plugins file .*x\.json: ENOENT/);
  for (const r of [badName, missing, badRoles, removeUnknown]) t.notRegex(r.stderr, /\n\s+at /);
});
