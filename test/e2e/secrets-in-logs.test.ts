import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { writeAllInOneConfig } from '../support/all-in-one.js';
import { tmpDir } from '../support/env.js';
import { startOriginServer } from '../support/origin-server.js';
import { runCli, startCli, waitForOutput, type CliResult } from '../support/run-cli.js';

test('no secret reaches a log of a debug-level node: passwords, session tokens, personal access tokens, the node credential, signed URLs, Authorization headers', async (t) => {
  t.timeout(150_000);
  const rootPassword = `root-${randomBytes(9).toString('hex')}`;
  const alicePassword = `alice-${randomBytes(9).toString('hex')}`;
  const signature = randomBytes(32).toString('hex');
  const credential = `AKIA${randomBytes(8).toString('hex').toUpperCase()}`;
  const bearer = `origin-bearer-${randomBytes(12).toString('hex')}`;
  const file = randomBytes(3 * 1024 * 1024);
  const origin = await startOriginServer(t, { files: { '/signed.bin': file, '/private.bin': file.subarray(0, 1024 * 1024) } });

  const node = await writeAllInOneConfig(t, { manager: { rootPassword } });
  const logs: string[] = [];
  const child = startCli(t, ['up', '-c', node.file, '--log-level', 'trace', '--log-format', 'json']);
  child.stdout!.on('data', (d: Buffer) => logs.push(d.toString()));
  child.stderr!.on('data', (d: Buffer) => logs.push(d.toString()));
  await waitForOutput(child, /d7y: ready: .*\n/, 90_000);

  const config = await tmpDir(t);
  const outputs: CliResult[] = [];
  const d7y = async (args: string[], env: NodeJS.ProcessEnv = {}, input?: string) => {
    const r = await runCli(args, {
      input, env: { XDG_CONFIG_HOME: config, D7Y_MANAGER_URL: node.managerUrl, D7Y_LOG_LEVEL: 'trace', D7Y_TOKEN: '', D7Y_SESSION_TOKEN: '', D7Y_PASSWORD: '', ...env },
    });
    outputs.push(r);
    return r;
  };

  t.is((await d7y(['login', '--password-stdin'], {}, `${rootPassword}\n`)).code, 0);
  const made = await d7y(['token', 'create', 'ci', '--json']);
  t.is(made.code, 0, made.stderr);
  const pat = (JSON.parse(made.stdout) as { token: string }).token;
  outputs.pop();
  outputs.push({ ...made, stdout: '' });
  t.is((await d7y(['job', 'list', '--json'], { D7Y_TOKEN: pat })).code, 0);
  const session = Object.values((JSON.parse(await readFile(join(config, 'd7y', 'credentials.json'), 'utf8')) as { managers: Record<string, { token: string }> }).managers)[0]!.token;
  const created = await fetch(`${node.managerUrl}/api/v1/users`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${session}` },
    body: JSON.stringify({ name: 'alice', password: alicePassword }),
  });
  t.is(created.status, 201);
  t.is((await fetch(`${node.managerUrl}/api/v1/users/signin`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'alice', password: 'wrong-password' }) })).status, 401);
  const nodeToken = (JSON.parse(await readFile(join(node.dataDir, 'node-credential.json'), 'utf8')) as { token: string }).token;

  const signedUrl = `${origin.urlOf('/signed.bin')}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${credential}%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=${signature}`;
  const signed = await d7y(['get', signedUrl, '-O', join(config, 'signed.bin'), '--socket', node.socket]);
  t.is(signed.code, 0, signed.stderr);
  const authed = await d7y(['get', origin.urlOf('/private.bin'), '-H', `Authorization: Bearer ${bearer}`, '-O', join(config, 'private.bin'), '--socket', node.socket]);
  t.is(authed.code, 0, authed.stderr);
  t.true(origin.served.lastHeaders('/private.bin')?.authorization === `Bearer ${bearer}`, 'the header did reach the origin');
  const missing = await d7y(['get', `${origin.urlOf('/missing.bin')}?X-Amz-Signature=${signature}`, '-O', join(config, 'missing.bin'), '--socket', node.socket]);
  t.is(missing.code, 1, 'a failing signed download logs its error too');

  await new Promise((r) => setTimeout(r, 500));
  const everything = [logs.join(''), ...outputs.map((o) => `${o.stdout}\n${o.stderr}`)].join('\n');
  t.true(everything.length > 5_000, `${everything.length} characters of logs at trace level`);
  t.true(everything.includes('signed.bin'), 'the signed download is in the logs');
  t.log(everything.split('\n').filter((l) => /signed\.bin|missing\.bin/.test(l)).slice(0, 4).join('\n').slice(0, 1500));
  t.true(everything.includes('X-Amz-Signature=[redacted]') || !everything.includes('X-Amz-Signature'), 'a signed URL is logged with its signature censored');
  const secrets = { rootPassword, alicePassword, signature, credential, bearer, pat, session, nodeToken };
  for (const [name, secret] of Object.entries(secrets)) {
    const at = everything.indexOf(secret);
    t.is(at, -1, `${name} found in a log: …${everything.slice(Math.max(0, at - 200), at + 40)}`);
  }
});
