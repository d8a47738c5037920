import test from 'ava';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pluginSandbox } from '../support/plugin-sandbox.js';
import { runCli } from '../support/run-cli.js';

/** `d7y plugin verify <name>` on a sandbox holding the given fixture packages. */
async function verify(t: Parameters<typeof pluginSandbox>[0], name: string, fixtures: string[], entries: unknown[]) {
  const box = await pluginSandbox(t, fixtures, { plugins: entries });
  const result = await runCli(['plugin', 'verify', name, ...box.args], { cwd: box.dir });
  return result;
}

function failedRow(stdout: string): string {
  return stdout.split('\n').find((l) => / FAIL /.test(l)) ?? '';
}

test('a plugin that is not installed fails at resolve and says how to install it', async (t) => {
  const r = await verify(t, 'ghost', [], [{ name: 'ghost' }]);
  t.is(r.code, 1);
  t.regex(failedRow(r.stdout), /^resolve .*package "d7y-plugin-ghost" is not installed/);
  t.regex(r.stdout, /fix: install it with `d7y plugin add d7y-plugin-ghost`/);
  t.notRegex(r.stderr + r.stdout, /at .*\.js:\d+/);
});

test('a plugin whose own dependency is missing fails at resolve and names that dependency', async (t) => {
  const r = await verify(t, 'missingdep', ['missingdep'], [{ name: 'missingdep' }]);
  t.is(r.code, 1);
  const row = failedRow(r.stdout);
  t.regex(row, /^resolve .*installed at .*d7y-plugin-missingdep but failed to load: Cannot find package 'd7y-test-absent-dependency'/);
  t.regex(row, /fix: install the plugin's missing dependency/);
});

test('a module without a default export fails at export', async (t) => {
  const r = await verify(t, 'nodefault', ['nodefault'], [{ name: 'nodefault' }]);
  t.is(r.code, 1);
  t.regex(failedRow(r.stdout), /^export .*no default export with a register\(\) function.*export default definePlugin/);
});

test('an invalid manifest fails at manifest and names each bad field', async (t) => {
  const r = await verify(t, 'badmanifest', ['badmanifest'], [{ name: 'badmanifest' }]);
  t.is(r.code, 1);
  t.regex(r.stdout, /manifest .*FAIL +manifest\.version: expected a semver version/);
  t.regex(r.stdout, /manifest\.kind: Invalid option: expected one of "source"\|"evaluator"\|"storage"/);
});

test('a wrong apiVersion fails at apiVersion and says which versions are supported', async (t) => {
  const r = await verify(t, 'oldapi', ['oldapi'], [{ name: 'oldapi' }]);
  t.is(r.code, 1);
  t.regex(failedRow(r.stdout), /^apiVersion .*plugin API version "0" is not supported by this d7y \(supported: 1\)/);
});

test('a plugin that throws in register fails at register with its message', async (t) => {
  const r = await verify(t, 'throws', ['throws'], [{ name: 'throws' }]);
  t.is(r.code, 1);
  t.regex(failedRow(r.stdout), /^register +peer +FAIL +register\(\) threw: cannot reach the license server/);
});

test('two plugins for one scheme fail at duplicate, naming the first owner', async (t) => {
  const r = await verify(t, 'echo2', ['echo', 'echo2'], [{ name: 'echo' }, { name: 'echo2' }]);
  t.is(r.code, 1);
  t.regex(failedRow(r.stdout), /^duplicate +peer +FAIL +scheme "echo" is already provided by plugin "echo"/);
});

test('an unmet capability fails at capability, naming what is missing', async (t) => {
  const r = await verify(t, 'needstape', ['needstape'], [{ name: 'needstape' }]);
  t.is(r.code, 1);
  t.regex(failedRow(r.stdout), /^capability +peer +FAIL +requires storage:tape, which no plugin loaded in the peer role provides/);
});

test('an invalid plugin config fails at config with the JSON path', async (t) => {
  const r = await verify(t, 'echo', ['echo'], [{ name: 'echo', roles: ['peer'], config: { prefix: 42 } }]);
  t.is(r.code, 1);
  t.regex(failedRow(r.stdout), /^config +peer +FAIL +plugins\[0\]\.config\.prefix: expected string/);
});

test('an experiment naming an unknown evaluator is refused at start with its path', async (t) => {
  const box = await pluginSandbox(t, ['fifo'], {
    plugins: [{ name: 'fifo' }],
    scheduler: { evaluator: 'fifo', experiment: { id: 'exp1', variants: [{ name: 'a', evaluator: 'fifo', weight: 50 }, { name: 'b', evaluator: 'nonesuch', weight: 50 }] } },
  });
  const cfg = join(box.dir, 'node.yaml');
  await writeFile(cfg, `dataDir: ${join(box.dir, 'data')}\npluginDir: ${box.pluginDir}\n`);
  const r = await runCli(['config', 'validate', cfg, '--role', 'scheduler', '--plugins-file', box.pluginsFile], { cwd: box.dir });
  t.is(r.code, 1);
  t.regex(r.stderr, /\[scheduler\] at scheduler\.experiment\.variants\[1\]\.evaluator: experiment "exp1" variant "b" names evaluator "nonesuch", which is not loaded \(loaded evaluators: fifo\)/);
});

test('experiment weights that do not sum to 100 are refused with the sum', async (t) => {
  const box = await pluginSandbox(t, ['fifo'], {
    plugins: [{ name: 'fifo' }],
    scheduler: { evaluator: 'fifo', experiment: { id: 'exp1', variants: [{ name: 'a', evaluator: 'fifo', weight: 60 }, { name: 'b', evaluator: 'fifo', weight: 30 }] } },
  });
  const cfg = join(box.dir, 'node.yaml');
  await writeFile(cfg, `dataDir: ${join(box.dir, 'data')}\n`);
  const r = await runCli(['config', 'validate', cfg, '--role', 'scheduler', '--plugins-file', box.pluginsFile], { cwd: box.dir });
  t.is(r.code, 2);
  t.regex(r.stderr, /at scheduler\.experiment\.variants: variant weights must sum to 100, they sum to 90/);
});

test('every problem of a start is reported at once, and onFailure: continue skips a broken plugin', async (t) => {
  const box = await pluginSandbox(t, ['throws', 'oldapi', 'fifo'], {
    plugins: [{ name: 'fifo' }, { name: 'throws' }, { name: 'oldapi' }, { name: 'ghost', onFailure: 'continue' }],
    scheduler: { evaluator: 'fifo' },
  });
  const cfg = join(box.dir, 'node.yaml');
  await writeFile(cfg, `dataDir: ${join(box.dir, 'data')}\npluginDir: ${box.pluginDir}\n`);
  const r = await runCli(['config', 'validate', cfg, '--role', 'peer', '--plugins-file', box.pluginsFile], { cwd: box.dir });
  t.is(r.code, 1);
  t.regex(r.stderr, /plugin problems in/);
  t.regex(r.stderr, /plugin "throws" \[register\] at plugins\[1\]/);
  t.regex(r.stderr, /plugin "oldapi" \[apiVersion\] at plugins\[2\]/);
  t.notRegex(r.stderr, /ghost/);
  t.notRegex(r.stderr, /\n\s+at /);
});
