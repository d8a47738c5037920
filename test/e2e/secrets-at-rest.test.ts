import test from 'ava';
import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { startAllInOne } from '../support/all-in-one.js';
import { tmpDir } from '../support/env.js';
import { runCli } from '../support/run-cli.js';

const ROOT_PASSWORD = 'at-rest-root-password-1';

/** Every file and directory under `dir` with its permission bits. */
async function modes(dir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(e.parentPath, e.name);
    out.set(relative(dir, path), (await stat(path)).mode & 0o777);
  }
  return out;
}

test('d7y up keeps its data dir 0700 and every secret file 0600; rotate-secret ends the sessions of d7y login, which then asks to log in again', async (t) => {
  t.timeout(150_000);
  const node = await startAllInOne(t, {
    manager: { rootPassword: ROOT_PASSWORD },
    peer: { proxy: { hijackHttps: { hosts: ['^intercepted\\.invalid$'] } } },
  });
  const config = await tmpDir(t);
  const d7y = (args: string[], input?: string) => runCli(args, {
    input, env: { XDG_CONFIG_HOME: config, D7Y_MANAGER_URL: node.managerUrl, D7Y_TOKEN: '', D7Y_SESSION_TOKEN: '', D7Y_PASSWORD: '' },
  });
  const login = await d7y(['login', '--password-stdin'], `${ROOT_PASSWORD}\n`);
  t.is(login.code, 0, login.stderr);

  t.is((await stat(node.dataDir)).mode & 0o777, 0o700, 'the data dir is its owner\'s only');
  const files = await modes(node.dataDir);
  const secrets = [...files.keys()].filter((f) => /manager\.sqlite|node-credential\.json|\.key$/.test(f));
  t.log(`secret files: ${secrets.map((f) => `${f} ${files.get(f)!.toString(8)}`).join(', ')}`);
  for (const expected of ['manager.sqlite', 'node-credential.json']) t.true(secrets.includes(expected), `${expected} exists`);
  t.true(secrets.some((f) => f.endsWith('proxy-ca.key')), 'the proxy CA key exists');
  for (const f of secrets) t.is(files.get(f), 0o600, `${f} is 0600`);
  for (const [f, mode] of files) t.is(mode & 0o002, 0, `${f} is not writable by others`);
  for (const [f, mode] of files) if (/^(seed-)?peer$/.test(f)) t.is(mode, 0o700, `${f}/ is 0700`);
  t.is((await stat(join(config, 'd7y', 'credentials.json'))).mode & 0o777, 0o600, 'the credentials of d7y login are 0600');

  t.is((await d7y(['token', 'list', '--json'])).code, 0);
  const rotated = await runCli(['manager', 'rotate-secret', '-c', node.file]);
  t.is(rotated.code, 0, rotated.stderr);
  t.regex(rotated.stderr, /session signing secret rotated; [1-9]\d* session\(s\) ended/);
  const refused = await d7y(['token', 'list', '--json']);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /has expired or was ended[\s\S]*run d7y login/);
  t.is((await d7y(['login', '--password-stdin'], `${ROOT_PASSWORD}\n`)).code, 0);
  t.is((await d7y(['token', 'list', '--json'])).code, 0, 'a new login works at once');
  await new Promise((r) => setTimeout(r, 5_500));
  const after = await d7y(['token', 'list', '--json']);
  t.is(after.code, 0, `and still after the manager reloaded the secret: ${after.stderr}`);
});
