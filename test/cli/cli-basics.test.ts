import test from 'ava';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot, tmpDir } from '../support/env.js';
import { runCli } from '../support/run-cli.js';

const NO_STACK = /\n\s+at .+:\d+:\d+/;

test('--version prints the package version and --help lists the commands', async (t) => {
  const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  const version = await runCli(['--version']);
  t.is(version.code, 0);
  t.is(version.stdout.trim(), pkg.version);
  const help = await runCli(['--help']);
  t.is(help.code, 0);
  for (const cmd of ['up', 'manager', 'scheduler', 'peer', 'get', 'plugin', 'config', 'task']) t.regex(help.stdout, new RegExp(`\\n  ${cmd}\\b`));
});

test('task id prints the Dragonfly test vector, and refuses a bad piece length', async (t) => {
  const r = await runCli(['task', 'id', 'https://example.com', '--tag', 'foo', '--application', 'bar']);
  t.is(r.code, 0);
  t.is(r.stdout, '06408fbf247ddaca478f8cb9565fe5591c28efd0994b8fea80a6a87d3203c5ca\n');
  const bad = await runCli(['task', 'id', 'https://example.com', '--piece-length', '1MiB']);
  t.is(bad.code, 2);
  t.is(bad.stderr, 'd7y: piece length 1048576 is out of range: it must be a whole number of bytes from 4194304 to 67108864\n  fix: choose a piece length between 4 MiB and 64 MiB, e.g. 4MiB\n');
});

test('an unknown command or option is a usage error with a suggestion', async (t) => {
  const r = await runCli(['plugn', 'list']);
  t.is(r.code, 2);
  t.regex(r.stderr, /unknown command 'plugn'/);
  t.regex(r.stderr, /Did you mean plugin\?/);
  const opt = await runCli(['task', 'id', 'https://e.com', '--tagg', 'x']);
  t.is(opt.code, 2);
  t.regex(opt.stderr, /unknown option '--tagg'/);
});

test('config validate accepts a good file and names file, path and expected value for bad ones', async (t) => {
  const dir = await tmpDir(t);
  const good = join(dir, 'good.yaml');
  await writeFile(good, `dataDir: ${join(dir, 'data')}\nscheduler:\n  listen: { port: 9002 }\n`);
  const ok = await runCli(['config', 'validate', good, '--role', 'scheduler']);
  t.is(ok.code, 0, ok.stderr);
  t.is(ok.stdout, `${good}: valid for scheduler\n`);

  const wrongType = join(dir, 'type.yaml');
  await writeFile(wrongType, 'scheduler:\n  listen: { port: "high" }\n');
  const r1 = await runCli(['config', 'validate', wrongType]);
  t.is(r1.code, 2);
  t.regex(r1.stderr, new RegExp(`${wrongType} at scheduler\\.listen\\.port: Invalid input: expected number, received string`));

  const unknown = join(dir, 'unknown.json');
  await writeFile(unknown, JSON.stringify({ peer: { seeed: true } }));
  const r2 = await runCli(['config', 'validate', unknown]);
  t.is(r2.code, 2);
  t.regex(r2.stderr, /unknown\.json at peer: Unrecognized key: "seeed"/);

  const broken = join(dir, 'broken.yaml');
  await writeFile(broken, 'scheduler: [unclosed\n');
  const r3 = await runCli(['config', 'validate', broken]);
  t.is(r3.code, 2);
  t.regex(r3.stderr, /broken\.yaml is not valid YAML/);

  const missing = await runCli(['config', 'validate', join(dir, 'nope.yaml')]);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /cannot read config file .*nope\.yaml: ENOENT\n {2}fix: check the path given to --config/);

  const env = await runCli(['config', 'validate', good], { env: { D7Y_SCHEDULER__LISTEN__PORT: '"x"' } });
  t.is(env.code, 2);
  t.regex(env.stderr, /at scheduler\.listen\.port: Invalid input: expected number, received string/);

  for (const r of [r1, r2, r3, missing, env]) t.notRegex(r.stderr, NO_STACK);
});
