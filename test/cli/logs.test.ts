import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { tmpDir } from '../support/env.js';
import { runCli, startCli, startCliOnTerminal, waitForOutput } from '../support/run-cli.js';

const SECRET = 'pat-0d7ysecret-do-not-log';
const PRETTY_LINE = /^\d\d:\d\d:\d\d\.\d{3} +INFO *:? +scheduler: scheduler started .*listen=127\.0\.0\.1:\d+/m;
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

/**
 * A scheduler config on a free loopback port, `log.level: info`, linked to a (closed) loopback manager
 * with a token; its manager section holds secrets too (a root password, a Redis URL with a password).
 */
async function schedulerConfig(t: ExecutionContext): Promise<{ dir: string; config: string; env: NodeJS.ProcessEnv }> {
  const dir = await tmpDir(t);
  const config = join(dir, 'node.yaml');
  await writeFile(config, [
    'log: { level: info }',
    'scheduler:',
    '  listen: { host: 127.0.0.1, port: 0 }',
    `  manager: { url: "http://127.0.0.1:9", token: "${SECRET}" }`,
    `manager: { rootPassword: "${SECRET}-root", redis: { url: "redis://:${SECRET}-redis@127.0.0.1:9" } }`,
  ].join('\n'));
  return { dir, config, env: { D7Y_DATA_DIR: join(dir, 'data') } };
}

/** What a scheduler logs up to its ready line, with colours taken out. */
async function logsUntilReady(child: ReturnType<typeof startCli>): Promise<string> {
  return (await waitForOutput(child, /d7y: ready: [^\n]*\n/, 60_000)).replace(ANSI, '').replace(/\r/g, '');
}

function jsonLines(output: string): Record<string, unknown>[] {
  return output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('on a terminal a role logs lines a person reads: time, level, role, message, key=value; no JSON, no secret', async (t) => {
  const { dir, config, env } = await schedulerConfig(t);
  const out = await logsUntilReady(startCliOnTerminal(t, ['scheduler', '-c', config], { cwd: dir, env }));
  t.log(out);
  t.regex(out, PRETTY_LINE);
  t.regex(out, /^\d\d:\d\d:\d\d\.\d{3} +WARN *:? +scheduler: manager unreachable .*err="manager http:\/\/127\.0\.0\.1:9 unreachable/m);
  t.false(out.includes('{"level":'), 'no JSON line on a terminal');
  t.false(/DEBUG/.test(out), 'log.level info in the file: no debug line');
  t.false(out.includes(SECRET));
});

test('D7Y_LOG_LEVEL=debug beats log.level info in the file; the node config shows with its token redacted, pretty and JSON', async (t) => {
  const { dir, config, env } = await schedulerConfig(t);
  const pretty = await logsUntilReady(startCliOnTerminal(t, ['scheduler', '-c', config], { cwd: dir, env: { ...env, D7Y_LOG_LEVEL: 'debug' } }));
  t.regex(pretty, /^\d\d:\d\d:\d\d\.\d{3} +DEBUG *:? +d7y: node config config=\{.*"token":"\[redacted\]"/m);
  t.regex(pretty, /"rootPassword":"\[redacted\]"/);
  t.regex(pretty, /"url":"redis:\/\/:\[redacted\]@127\.0\.0\.1:9"/);
  t.regex(pretty, PRETTY_LINE);
  t.false(pretty.includes(SECRET), 'the token is not in the pretty lines');

  const piped = await logsUntilReady(startCli(t, ['scheduler', '-c', config], { cwd: dir, env: { ...env, D7Y_LOG_LEVEL: 'debug' } }));
  const lines = jsonLines(piped);
  const configLine = lines.find((l) => l.msg === 'node config');
  t.is(configLine?.level, 20, 'a debug line, as JSON');
  t.is((configLine?.config as { scheduler: { manager: { token: string } } }).scheduler.manager.token, '[redacted]');
  t.false(piped.includes(SECRET), 'the token is not in the JSON lines');
});

test('with stderr to a pipe, or with --log-format json on a terminal, a role logs JSON lines', async (t) => {
  const { dir, config, env } = await schedulerConfig(t);
  const piped = await logsUntilReady(startCli(t, ['scheduler', '-c', config], { cwd: dir, env }));
  const onTerminal = await logsUntilReady(startCliOnTerminal(t, ['scheduler', '-c', config, '--log-format', 'json'], { cwd: dir, env }));
  for (const [how, out] of [['to a pipe', piped], ['--log-format json', onTerminal]] as const) {
    const started = jsonLines(out).find((l) => l.msg === 'scheduler started');
    t.truthy(started, `${how}: the start is a JSON line`);
    t.is(started?.role, 'scheduler');
    t.is(typeof started?.time, 'number');
    t.notRegex(out, PRETTY_LINE, how);
    t.false(jsonLines(out).some((l) => l.level === 20), `${how}: log.level info in the file, no debug line`);
    t.false(out.includes(SECRET), how);
  }
});

test('log.format: pretty in the file gives pretty lines even to a pipe; D7Y_LOG__FORMAT=json overrides it', async (t) => {
  const { dir, env } = await schedulerConfig(t);
  const prettyConfig = join(dir, 'pretty.yaml');
  await writeFile(prettyConfig, `log: { format: pretty }\nscheduler: { listen: { host: 127.0.0.1, port: 0 } }\n`);
  t.regex(await logsUntilReady(startCli(t, ['scheduler', '-c', prettyConfig], { cwd: dir, env })), PRETTY_LINE);
  const json = await logsUntilReady(startCli(t, ['scheduler', '-c', prettyConfig], { cwd: dir, env: { ...env, D7Y_LOG__FORMAT: 'json' } }));
  t.truthy(jsonLines(json).find((l) => l.msg === 'scheduler started'));
});

test('a bad D7Y_LOG_LEVEL is a usage error naming the variable and the valid levels', async (t) => {
  const { dir, config, env } = await schedulerConfig(t);
  const r = await runCli(['scheduler', '-c', config], { cwd: dir, env: { ...env, D7Y_LOG_LEVEL: 'loud' } });
  t.is(r.code, 2);
  t.regex(r.stderr, /^d7y: D7Y_LOG_LEVEL="loud" is not a log level\n {2}fix: set D7Y_LOG_LEVEL to one of: trace, debug, info, warn, error, fatal, silent/);
});

test('a mistyped D7Y_ config variable fails config validate, a role and a daemonless get, naming it and the closest known one', async (t) => {
  const { dir, config, env } = await schedulerConfig(t);
  const typo = { ...env, D7Y_SCHEDULR__LISTEN__PORT: '1' };
  const said = /d7y: unknown environment variable D7Y_SCHEDULR__LISTEN__PORT \(no config key schedulr\.listen\.port\); did you mean D7Y_SCHEDULER__LISTEN__PORT\?\n {2}fix: rename it to D7Y_SCHEDULER__LISTEN__PORT, or unset it/;
  const runs = {
    'config validate': await runCli(['config', 'validate', config], { cwd: dir, env: typo }),
    scheduler: await runCli(['scheduler', '-c', config], { cwd: dir, env: typo }),
    'get --no-daemon': await runCli(['get', 'http://127.0.0.1:9/file', '-O', join(dir, 'out'), '--no-daemon'], { cwd: dir, env: typo }),
  };
  for (const [what, r] of Object.entries(runs)) {
    t.is(r.code, 2, `${what}: ${r.stderr}`);
    t.regex(r.stderr, said, what);
  }
  const deep = await runCli(['config', 'validate', config], { cwd: dir, env: { ...env, D7Y_SCHEDULER__LISTEN__PROT: '1' } });
  t.is(deep.code, 2);
  t.regex(deep.stderr, /D7Y_SCHEDULER__LISTEN__PROT .*did you mean D7Y_SCHEDULER__LISTEN__PORT\?/);
});

test('variables d7y reads for other purposes, and right config variables, are accepted', async (t) => {
  const { dir, config, env } = await schedulerConfig(t);
  const r = await runCli(['config', 'validate', config], {
    cwd: dir,
    env: {
      ...env, D7Y_DEBUG: '1', D7Y_LOG_LEVEL: 'warn', D7Y_TOKEN: 'x', D7Y_PASSWORD: 'x', D7Y_MANAGER_URL: 'http://127.0.0.1:9',
      D7Y_BENCH_LOG: 'warn', D7Y_BENCH_NODE_ARGS: '', D7Y_PLUGIN_DIR: join(dir, 'plugins'),
      D7Y_SCHEDULER__LISTEN__PORT: '0', D7Y_LOG__FORMAT: 'json', D7Y_PEER__UPLOAD__CHILDREN_PER_PIECE: '1',
    },
  });
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, `${config}: valid for manager, scheduler, peer\n`);
});
