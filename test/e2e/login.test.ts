import test, { type ExecutionContext } from 'ava';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, tmpDir } from '../support/env.js';
import { runCli, startCli, stopProcess, waitForOutput } from '../support/run-cli.js';

const ROOT_PASSWORD = 'login-root-password-1';

interface Manager {
  url: string;
  dir: string;
  file: string;
  process: ReturnType<typeof startCli>;
  output: string;
}

/** A `d7y manager` process with its own data dir; a restart passes the `dir` and `url` of the first start. */
async function startManagerProcess(t: ExecutionContext, manager: Record<string, unknown>, before?: Manager): Promise<Manager> {
  const home = before?.dir ?? await tmpDir(t);
  const port = before ? Number(new URL(before.url).port) : await freePort();
  const file = join(home, 'manager.json');
  await writeFile(file, JSON.stringify({ dataDir: join(home, 'data'), log: { level: 'info' }, manager: { listen: { host: '127.0.0.1', port }, ...manager } }));
  const proc = startCli(t, ['manager', '-c', file]);
  const output = await waitForOutput(proc, /d7y: ready: manager/, 60_000);
  return { url: `http://127.0.0.1:${port}`, dir: home, file, process: proc, output };
}

/** `d7y <args>` as a user with their own config directory (so their own credentials.json), no manager variables set. */
function asUser(configHome: string) {
  return (args: string[], env: NodeJS.ProcessEnv = {}, input?: string) => runCli(args, {
    env: { XDG_CONFIG_HOME: configHome, D7Y_MANAGER_URL: '', D7Y_TOKEN: '', D7Y_SESSION_TOKEN: '', D7Y_PASSWORD: '', ...env }, input,
  });
}

test('d7y login reads the password from stdin and keeps a 0600 session that token, audit and preheat use without flags; passwd, logout and a reset end it with a clear way back', async (t) => {
  t.timeout(120_000);
  const m = await startManagerProcess(t, { rootPassword: ROOT_PASSWORD });
  const config = await tmpDir(t);
  const d7y = asUser(config);
  const store = join(config, 'd7y', 'credentials.json');

  const login = await d7y(['login', '--manager', `${m.url}/`, '--password-stdin'], {}, `${ROOT_PASSWORD}\n`);
  t.is(login.code, 0, login.stderr);
  t.regex(login.stderr, new RegExp(`logged in to ${m.url} as root`));
  t.is((await stat(store)).mode & 0o777, 0o600, 'the credentials file is readable by its owner only');
  t.is((await stat(join(config, 'd7y'))).mode & 0o777, 0o700, 'so is its directory');
  const stored = JSON.parse(await readFile(store, 'utf8')) as { managers: Record<string, { user: string; token: string }> };
  t.deepEqual(Object.keys(stored.managers), [m.url], 'one entry, under the manager URL without its trailing slash');
  t.is(stored.managers[m.url]!.user, 'root');
  t.false(login.stdout.includes(ROOT_PASSWORD) || login.stderr.includes(ROOT_PASSWORD), 'the password is never printed');

  const created = await d7y(['token', 'create', 'ci', '--json']);
  t.is(created.code, 0, `token create needs no flag once logged in: ${created.stderr}`);
  const pat = (JSON.parse(created.stdout) as { token: string }).token;
  const listed = await d7y(['token', 'list', '--json'], { D7Y_TOKEN: pat });
  t.is(listed.code, 0, `a personal access token in D7Y_TOKEN does not get in the way of the console session: ${listed.stderr}`);
  t.deepEqual((JSON.parse(listed.stdout) as { name: string }[]).map((x) => x.name), ['ci']);
  const jobs = await d7y(['job', 'list', '--json'], { D7Y_TOKEN: pat });
  t.is(jobs.code, 0, `job list takes the PAT of D7Y_TOKEN: ${jobs.stderr}`);
  const preheat = await d7y(['preheat', 'https://origin.example/a']);
  t.regex(preheat.stderr, /no scheduler cluster/, 'preheat goes through with the session alone (and the manager answers)');
  const audit = await d7y(['audit', 'list', '--json']);
  t.is(audit.code, 0, audit.stderr);
  t.true((JSON.parse(audit.stdout) as { actor_name: string; path: string }[]).some((r) => r.actor_name === 'ci' && r.path === '/oapi/v1/jobs'),
    'the audit shows the PAT call');

  const sessionInTokenVar = await d7y(['token', 'list'], { XDG_CONFIG_HOME: await tmpDir(t), D7Y_MANAGER_URL: m.url, D7Y_TOKEN: stored.managers[m.url]!.token });
  t.is(sessionInTokenVar.code, 1);
  t.regex(sessionInTokenVar.stderr, /D7Y_TOKEN holds a console session token.*set D7Y_SESSION_TOKEN/, 'the error names the variable that is needed');
  const noPat = await d7y(['job', 'list'], { XDG_CONFIG_HOME: await tmpDir(t), D7Y_MANAGER_URL: m.url });
  t.regex(noPat.stderr, /personal access token \(D7Y_TOKEN\)/);

  const changed = await d7y(['passwd', '--password-stdin'], {}, `${ROOT_PASSWORD}\nnew-root-password-2\n`);
  t.is(changed.code, 0, changed.stderr);
  t.regex(changed.stderr, /password of root changed/);
  t.regex(changed.stderr, /manager\.rootPassword is set/, 'root is told the config sets the password back at the next start');
  const wrongOld = await d7y(['passwd', '--password-stdin'], {}, `${ROOT_PASSWORD}\nwhatever-password-3\n`);
  t.is(wrongOld.code, 1);
  t.regex(wrongOld.stderr, /current password is wrong/);
  t.is((await d7y(['token', 'list'])).code, 0, 'the session that changed the password goes on');
  const old = await d7y(['login', '--password-stdin'], {}, `${ROOT_PASSWORD}\n`);
  t.is(old.code, 1, 'the old password no longer signs in');
  t.regex(old.stderr, /wrong user name or password/);
  const relog = await d7y(['login', '--password-stdin'], {}, 'new-root-password-2\n');
  t.is(relog.code, 0, `the new one does, with the one stored manager as default: ${relog.stderr}`);

  const logout = await d7y(['logout']);
  t.is(logout.code, 0, logout.stderr);
  t.deepEqual((JSON.parse(await readFile(store, 'utf8')) as { managers: object }).managers, {}, 'the entry is gone');
  const after = await d7y(['token', 'list', '--manager', m.url]);
  t.is(after.code, 1);
  t.regex(after.stderr, /run d7y login/);
  t.notRegex(after.stderr, /\n\s+at /, 'no stack trace');
  t.regex(await d7y(['logout', '--manager', m.url]).then((r) => r.stderr), /not logged in to/);

  t.is((await d7y(['login', '--manager', m.url], { D7Y_PASSWORD: 'new-root-password-2' })).code, 0, 'D7Y_PASSWORD works too');
  const user = await d7y(['token', 'list']);
  t.is(user.code, 0);
  await stopProcess(m.process, 20_000);
  const reset = await runCli(['manager', 'reset-password', '-c', m.file, '--password-stdin'], { input: 'offline-password-4\n' });
  t.is(reset.code, 2, 'root\'s password comes from the config while manager.rootPassword is set');
  t.regex(reset.stderr, /change manager\.rootPassword/);
  const noRootPassword = join(m.dir, 'plain.json');
  const plain = JSON.parse(await readFile(m.file, 'utf8')) as { manager: Record<string, unknown> };
  delete plain.manager.rootPassword;
  await writeFile(noRootPassword, JSON.stringify(plain));
  const offline = await runCli(['manager', 'reset-password', '-c', noRootPassword, '--password-stdin'], { input: 'offline-password-4\n' });
  t.is(offline.code, 0, offline.stderr);
  t.regex(offline.stderr, /1 session\(s\) ended/);
  const again = startCli(t, ['manager', '-c', noRootPassword]);
  await waitForOutput(again, /d7y: ready: manager/, 60_000);
  const ended = await d7y(['token', 'list']);
  t.is(ended.code, 1, 'the stored session ended with the reset');
  t.regex(ended.stderr, new RegExp(`the session of d7y login for ${m.url} \\(user root, kept in .*credentials\\.json\\) has expired or was ended`));
  t.regex(ended.stderr, new RegExp(`fix: run d7y login --manager ${m.url} again`));
  t.is((await d7y(['login', '--password-stdin'], {}, 'offline-password-4\n')).code, 0, 'the offline password signs in');
});

test('manager.rootPassword applies at every start: a changed value replaces root\'s password and ends root\'s sessions', async (t) => {
  t.timeout(90_000);
  const m = await startManagerProcess(t, { rootPassword: ROOT_PASSWORD });
  const d7y = asUser(await tmpDir(t));
  t.is((await d7y(['login', '--manager', m.url, '--password-stdin'], {}, `${ROOT_PASSWORD}\n`)).code, 0);
  t.notRegex(m.output, /created user "root" with password/, 'a configured password is never printed');
  await stopProcess(m.process, 20_000);

  const same = await startManagerProcess(t, { rootPassword: ROOT_PASSWORD }, m);
  t.notRegex(same.output, /root password set/, 'the same value changes nothing');
  const still = await d7y(['token', 'list', '--manager', same.url]);
  t.is(still.code, 0, `so sessions live on: ${still.stderr}`);
  await stopProcess(same.process, 20_000);

  const changed = await startManagerProcess(t, { rootPassword: 'rotated-root-password-9' }, m);
  t.regex(changed.output, /root password set to manager\.rootPassword from the config/, 'an info log says so');
  t.false(changed.output.includes('rotated-root-password-9'), 'without the password');
  t.is((await d7y(['login', '--manager', changed.url, '--password-stdin'], {}, `${ROOT_PASSWORD}\n`)).code, 1, 'the old password is refused');
  t.is((await d7y(['login', '--manager', changed.url, '--password-stdin'], {}, 'rotated-root-password-9\n')).code, 0, 'the new one signs in');
});
