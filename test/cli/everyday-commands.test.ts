import test from 'ava';
import { spawnSync } from 'node:child_process';
import { cp, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pluginSandbox } from '../support/plugin-sandbox.js';
import { repoRoot, tmpDir } from '../support/env.js';
import { runCli } from '../support/run-cli.js';

const NO_STACK = /\n\s+at .+:\d+:\d+/;

async function packageVersion(): Promise<string> {
  return (JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

test('d7y version shows the package version, the commit of this checkout, Node and the platform; --json says the same', async (t) => {
  const version = await packageVersion();
  const text = await runCli(['version']);
  t.is(text.code, 0, text.stderr);
  t.regex(text.stdout, new RegExp(`^d7y +${version.replace(/\./g, '\\.')}\\ncommit +[0-9a-f]{40}\\nnode +${process.versions.node}\\nplatform +${process.platform}/${process.arch}\\n$`));
  const json = await runCli(['version', '--json']);
  t.is(json.code, 0, json.stderr);
  const info = JSON.parse(json.stdout) as Record<string, string>;
  t.is(info.version, version);
  t.regex(info.commit!, /^[0-9a-f]{40}$/);
  t.true(text.stdout.includes(info.commit!));
  t.deepEqual([info.node, info.platform, info.arch], [process.versions.node, process.platform, process.arch]);
  const flag = await runCli(['--version']);
  t.is(flag.stdout, `${version}\n`, '--version still prints the bare version');
});

test('d7y version run from a package that is no git checkout leaves the commit out and succeeds', async (t) => {
  const dir = await tmpDir(t);
  await cp(join(repoRoot, 'dist/cli'), join(dir, 'dist/cli'), { recursive: true });
  await cp(join(repoRoot, 'dist/core'), join(dir, 'dist/core'), { recursive: true });
  await cp(join(repoRoot, 'package.json'), join(dir, 'package.json'));
  await symlink(join(repoRoot, 'node_modules'), join(dir, 'node_modules'));
  const copy = spawnSync(process.execPath, [join(dir, 'dist/cli/d7y.js'), 'version', '--json'], { cwd: dir, encoding: 'utf8' });
  t.is(copy.status, 0, copy.stderr);
  const info = JSON.parse(copy.stdout) as Record<string, string>;
  t.is(info.version, await packageVersion());
  t.false('commit' in info, copy.stdout);
  const text = spawnSync(process.execPath, [join(dir, 'dist/cli/d7y.js'), 'version'], { cwd: dir, encoding: 'utf8' });
  t.is(text.status, 0, text.stderr);
  t.notRegex(text.stdout, /commit/);
});

test('config validate --json: ok with no problems for a good file; each problem with its phase and path for a bad one, same exit codes', async (t) => {
  const dir = await tmpDir(t);
  const good = join(dir, 'good.yaml');
  await writeFile(good, `dataDir: ${join(dir, 'data')}\n`);
  const ok = await runCli(['config', 'validate', good, '--json']);
  t.is(ok.code, 0, ok.stderr);
  t.like(JSON.parse(ok.stdout), { ok: true, file: good, problems: [] });

  const bad = join(dir, 'bad.yaml');
  await writeFile(bad, `dataDir: ${join(dir, 'data')}\nscheduler:\n  listen: { port: "high" }\npeer: { seeed: true }\n`);
  const r = await runCli(['config', 'validate', bad, '--json']);
  t.is(r.code, 2, 'a bad config is still a usage error');
  t.notRegex(r.stderr, NO_STACK);
  const result = JSON.parse(r.stdout) as { ok: boolean; problems: { phase: string; path: string; message: string }[] };
  t.false(result.ok);
  t.deepEqual(result.problems.map((p) => [p.phase, p.path]), [['schema', 'scheduler.listen.port'], ['schema', 'peer']]);
  t.regex(result.problems[0]!.message, /expected number, received string/);
  t.regex(result.problems[1]!.message, /Unrecognized key: "seeed"/);

  const plugins = join(dir, 'plugins.json');
  await writeFile(plugins, JSON.stringify({ plugins: [{ name: 'http', config: { bogus: 1 } }, { name: 'disk' }, { name: 'default' }], scheduler: { evaluator: 'default' } }));
  const p = await runCli(['config', 'validate', good, '--plugins-file', plugins, '--json']);
  t.is(p.code, 1, p.stdout);
  const withPlugin = JSON.parse(p.stdout) as { ok: boolean; problems: { phase: string; path: string; plugin?: string; fix?: string }[] };
  t.false(withPlugin.ok);
  t.like(withPlugin.problems[0], { phase: 'config', path: 'plugins[0].config', plugin: 'http' });
  t.regex(withPlugin.problems[0]!.fix ?? '', /d7y plugin info http/);
});

test('plugin verify --json: ok and every phase for a good plugin; exit 1 with the failing phase, its path and fix for a bad one', async (t) => {
  const sandbox = await pluginSandbox(t, ['echo', 'throws'], {
    plugins: [{ name: 'echo', package: 'd7y-plugin-echo' }, { name: 'throws', package: 'd7y-plugin-throws' }],
  });
  const good = await runCli(['plugin', 'verify', 'echo', '--json', ...sandbox.args], { cwd: sandbox.dir });
  t.is(good.code, 0, good.stderr);
  const report = JSON.parse(good.stdout) as { ok: boolean; plugin: string; phases: { phase: string; ok: boolean }[]; problems: unknown[] };
  t.true(report.ok);
  t.is(report.plugin, 'echo');
  t.deepEqual(report.problems, []);
  t.true(['resolve', 'manifest', 'register', 'duplicate'].every((ph) => report.phases.some((r) => r.phase === ph && r.ok)), good.stdout);

  const bad = await runCli(['plugin', 'verify', 'throws', '--json', ...sandbox.args], { cwd: sandbox.dir });
  t.is(bad.code, 1);
  const failed = JSON.parse(bad.stdout) as { ok: boolean; problems: { phase: string; path: string; message: string; fix: string }[] };
  t.false(failed.ok);
  t.is(failed.problems.length, 1, bad.stdout);
  t.like(failed.problems[0], { phase: 'register', path: 'plugins[1]', message: 'register() threw: cannot reach the license server' });
  t.regex(failed.problems[0]!.fix, /disable it in plugins\.json/);
});
