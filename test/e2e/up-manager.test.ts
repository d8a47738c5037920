import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JobView, TokenView } from '../../core/protocol/manager/index.js';
import { startAllInOne, writeAllInOneConfig } from '../support/all-in-one.js';
import { freePort } from '../support/env.js';
import { startOriginServer } from '../support/origin-server.js';
import { runCli, stopProcess, waitForOutput } from '../support/run-cli.js';

const MIB = 1024 * 1024;
const ROOT_PASSWORD = 'up-root-password-1';
const ROOT = { manager: { rootPassword: ROOT_PASSWORD } };
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const credentialOf = (dataDir: string) => join(dataDir, 'node-credential.json');

/** The roles of a `d7y: ready: manager {…}; scheduler {…}; …` banner, by label. */
function rolesOf(banner: string): Record<string, Record<string, unknown>> {
  const line = /d7y: ready: (.*)\n/.exec(banner)![1];
  return Object.fromEntries(line.split('; ').map((part) => {
    const i = part.indexOf(' ');
    return [part.slice(0, i), JSON.parse(part.slice(i + 1)) as Record<string, unknown>];
  }));
}

/** `d7y token` as root (password from the environment), JSON output. */
async function rootCli<T>(managerUrl: string, args: string[]): Promise<T> {
  const r = await runCli(['token', ...args, '--user', 'root', '--manager', managerUrl, '--json'], { env: { D7Y_PASSWORD: ROOT_PASSWORD } });
  if (r.code !== 0) throw new Error(`d7y token ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** One call of the manager's open API with a personal access token. */
async function oapi<T>(managerUrl: string, token: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${managerUrl}/oapi/v1${path}`, {
    method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/** Creates a job through the open API and polls it until it ends (or `ms` pass). */
async function runJob(managerUrl: string, token: string, job: unknown, ms = 60_000): Promise<JobView> {
  const created = await oapi<JobView>(managerUrl, token, 'POST', '/jobs', job);
  const deadline = Date.now() + ms;
  for (;;) {
    const j = await oapi<JobView>(managerUrl, token, 'GET', `/jobs/${created.id}`);
    if (j.state === 'succeeded' || j.state === 'failed' || Date.now() > deadline) return j;
    await new Promise((r) => setTimeout(r, 300));
  }
}

test('d7y up links its scheduler and peers to its own manager: an open-API preheat lands on the seed peer, a later get does not touch the origin, and a restart reuses the 0600 credential', async (t) => {
  t.timeout(240_000);
  const model = randomBytes(12 * MIB);
  const second = randomBytes(6 * MIB);
  const origin = await startOriginServer(t, { files: { '/model.bin': model, '/second.bin': second } });
  const node = await startAllInOne(t, ROOT);
  const roles = rolesOf(node.banner);
  t.is(roles.scheduler!.manager, node.managerUrl, 'the scheduler is linked to the node\'s manager');
  t.is(roles['seed-peer']!.schedulersFrom, 'manager');
  t.is(roles.peer!.schedulersFrom, 'manager');

  const credential = credentialOf(node.dataDir);
  t.is((await stat(credential)).mode & 0o777, 0o600, 'the credential file is readable by its owner only');
  t.is((await stat(join(node.dataDir, 'manager.sqlite'))).mode & 0o777, 0o600, 'so is the manager\'s database (it holds the session secret)');
  const stored = await readFile(credential, 'utf8');
  t.regex((JSON.parse(stored) as { token: string }).token, /^d7y_/);

  const { token } = await rootCli<{ token: string }>(node.managerUrl, ['create', 'e2e']);
  const schedulers = await oapi<{ id: string; state: string; port: number }[]>(node.managerUrl, token, 'GET', '/schedulers');
  t.deepEqual(schedulers.map((s) => s.state), ['active'], 'the scheduler registered in its cluster');
  t.is(schedulers[0]!.port, Number(String(roles.scheduler!.listen).split(':')[1]));
  const seeds = await oapi<{ id: string; state: string }[]>(node.managerUrl, token, 'GET', '/seed-peers');
  t.deepEqual(seeds.map((s) => s.state), ['active'], 'the seed peer registered in its seed-peer cluster');

  const url = origin.urlOf('/model.bin');
  const preheat = await runJob(node.managerUrl, token, { type: 'preheat', args: { type: 'file', url } });
  t.is(preheat.state, 'succeeded', JSON.stringify(preheat));
  t.deepEqual(preheat.results.map((r) => [r.host_id.endsWith('-seed'), r.state]), [[true, 'succeeded']], 'the seed peer took the file');
  t.true(origin.served.bytes >= model.length && origin.served.bytes <= model.length * 1.05, `origin served ${origin.served.bytes} bytes`);

  const servedBefore = origin.served.bytes;
  const out = join(node.dir, 'model.bin');
  const get = await runCli(['get', url, '-O', out, '--socket', node.socket, '--no-progress'], { timeoutMs: 90_000 });
  t.is(get.code, 0, get.stderr);
  t.is(sha256(await readFile(out)), sha256(model));
  t.is(origin.served.bytes, servedBefore, 'the get was served by the preheated seed peer, not the origin');

  const held = await runJob(node.managerUrl, token, { type: 'get_task', args: { url } });
  t.is(held.state, 'succeeded', JSON.stringify(held));
  t.deepEqual(held.results.map((r) => [r.host_id.endsWith('-seed'), r.content_length]).sort(), [[false, model.length], [true, model.length]],
    'the seed peer and the peer both hold the task');

  const exited = new Promise<number | null>((res) => node.process.once('exit', (code) => res(code)));
  await stopProcess(node.process, 20_000);
  t.is(await exited, 0);

  const again = await startAllInOne(t, { ...ROOT, dir: node.dir });
  t.is(await readFile(credential, 'utf8'), stored, 'the restart reused the credential');
  t.is(rolesOf(again.banner).peer!.schedulersFrom, 'manager');
  const next = await runJob(again.managerUrl, token, { type: 'preheat', args: { type: 'file', url: origin.urlOf('/second.bin') } });
  t.is(next.state, 'succeeded', JSON.stringify(next));
  const after = await oapi<{ id: string; state: string }[]>(again.managerUrl, token, 'GET', '/schedulers');
  t.deepEqual(after.map((s) => [s.id, s.state]), [[schedulers[0]!.id, 'active']], 'the same scheduler record, no duplicate');
  t.deepEqual((await oapi<{ id: string }[]>(again.managerUrl, token, 'GET', '/seed-peers')).map((s) => s.id), seeds.map((s) => s.id));
  t.is((await oapi<unknown[]>(again.managerUrl, token, 'GET', '/clusters')).length, 1, 'one scheduler cluster');
  const tokens = await rootCli<TokenView[]>(again.managerUrl, ['list']);
  t.is(tokens.filter((k) => k.name.startsWith('d7y up on ')).length, 1, 'one node credential on the manager');
});

test('dynamic config of the node\'s scheduler cluster reaches the scheduler of d7y up', async (t) => {
  const node = await startAllInOne(t, ROOT);
  const { token } = await rootCli<{ token: string }>(node.managerUrl, ['create', 'e2e']);
  const [cluster] = await oapi<{ id: string }[]>(node.managerUrl, token, 'GET', '/clusters');
  const applied = waitForOutput(node.process, /"changed":\["candidateParentLimit"\].*"candidateParentLimit":7/, 30_000);
  await oapi(node.managerUrl, token, 'PATCH', `/clusters/${cluster!.id}`, { config: { candidateParentLimit: 7 } });
  await t.notThrowsAsync(applied, 'the scheduler applied the new limit at its next keepalive');
  const audit = await runCli(['audit', 'list', '--limit', '1000', '--json', '--user', 'root', '--manager', node.managerUrl], { env: { D7Y_PASSWORD: ROOT_PASSWORD } });
  t.is(audit.code, 0, audit.stderr);
  const paths = (JSON.parse(audit.stdout) as { method: string; path: string }[]).map((a) => `${a.method} ${a.path}`);
  t.true(paths.some((p) => p.startsWith('PATCH /oapi/v1/clusters/')), 'the user\'s change is audited');
  t.false(paths.some((p) => /\/(keepalive|jobs\/claim)$/.test(p)), `the cluster's own keepalives and job claims (one a second) are not: ${paths.filter((p) => /keepalive|claim/.test(p)).slice(0, 3).join(', ')}`);
});

test('a node credential revoked on the manager stops d7y up with an error naming the file and the fix; deleting the file issues a new one', async (t) => {
  const node = await startAllInOne(t, ROOT);
  const credential = credentialOf(node.dataDir);
  const first = JSON.parse(await readFile(credential, 'utf8')) as { tokenId: string };
  const tokens = await rootCli<TokenView[]>(node.managerUrl, ['list']);
  const own = tokens.find((k) => k.name.startsWith('d7y up on '));
  t.is(own?.id, first.tokenId, 'the node credential is listed among the tokens');
  const revoke = await runCli(['token', 'revoke', own!.id, '--user', 'root', '--manager', node.managerUrl], { env: { D7Y_PASSWORD: ROOT_PASSWORD } });
  t.is(revoke.code, 0, revoke.stderr);
  await stopProcess(node.process, 20_000);

  const refused = await runCli(['up', '-c', node.file], { timeoutMs: 60_000 });
  t.is(refused.code, 1);
  t.true(refused.stderr.includes(`the token in the node credential ${credential} was revoked on the manager`), refused.stderr);
  t.regex(refused.stderr, new RegExp(`fix: delete ${credential.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} and start again`));
  t.notRegex(refused.stderr, /\n\s+at /, 'no stack trace');
  t.notRegex(refused.stderr, /d7y: ready/);

  await rm(credential);
  const again = await startAllInOne(t, { ...ROOT, dir: node.dir });
  t.is(rolesOf(again.banner).peer!.schedulersFrom, 'manager');
  t.not((JSON.parse(await readFile(credential, 'utf8')) as { tokenId: string }).tokenId, first.tokenId, 'a new credential');
});

test('a corrupt node credential stops d7y up with an error naming the file and the fix', async (t) => {
  const config = await writeAllInOneConfig(t, ROOT);
  const credential = credentialOf(config.dataDir);
  await mkdir(config.dataDir, { recursive: true });
  await writeFile(credential, '{"version":1,"tokenId":"0f9', { mode: 0o600 });
  const r = await runCli(['up', '-c', config.file], { timeoutMs: 60_000 });
  t.is(r.code, 2);
  t.true(r.stderr.includes(`the node credential ${credential} is corrupt: it is not JSON`), r.stderr);
  t.true(r.stderr.includes(`fix: delete ${credential} and start again`), r.stderr);
  t.notRegex(r.stderr, /\n\s+at /, 'no stack trace');
});

test('a manager section in the config wins over the automatic link, role by role', async (t) => {
  const elsewhere = `http://127.0.0.1:${await freePort()}`;
  const node = await startAllInOne(t, { ...ROOT, scheduler: { manager: { url: elsewhere, token: 'd7y_configured-token' } } });
  const roles = rolesOf(node.banner);
  t.is(roles.scheduler!.manager, elsewhere, 'the scheduler kept the configured manager');
  const { token } = await rootCli<{ token: string }>(node.managerUrl, ['create', 'e2e']);
  t.deepEqual(await oapi<unknown[]>(node.managerUrl, token, 'GET', '/schedulers'), [], 'the scheduler did not register with the node\'s manager');
  t.deepEqual((await oapi<{ state: string }[]>(node.managerUrl, token, 'GET', '/seed-peers')).map((s) => s.state), ['active'],
    'the seed peer still linked to the node\'s manager');
  t.is(roles.peer!.schedulersFrom, 'static', 'with no scheduler on the node\'s manager, the peer kept its configured schedulers');
});
