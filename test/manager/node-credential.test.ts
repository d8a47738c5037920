import test from 'ava';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isD7yError } from '../../core/errors/d7y-error.js';
import { tmpDir } from '../support/env.js';
import { startManager } from './manager-harness.js';

const stored = async (file: string) => JSON.parse(await readFile(file, 'utf8')) as { tokenId: string; token: string; expiresAt: string };

test('the node link is issued once, works on the open API and is reused', async (t) => {
  const m = await startManager(t);
  const file = join(await tmpDir(t), 'node-credential.json');
  const link = await m.role.nodeLink(file);
  t.is(link.url, m.url);
  t.is((await stat(file)).mode & 0o777, 0o600);
  t.deepEqual(await m.client(link.token).call('GET', '/oapi/v1/schedulers'), [], 'the token is accepted with scope cluster');
  t.deepEqual(await m.client(link.token).call('GET', '/oapi/v1/jobs'), [], 'and with scope job');
  t.deepEqual(await m.role.nodeLink(file), link, 'the same link again');
});

test('a node credential past half its lifetime is renewed and the old token revoked', async (t) => {
  const m = await startManager(t, { manager: { auth: { maxTokenTtl: 2_000 } } });
  const file = join(await tmpDir(t), 'node-credential.json');
  const old = await m.role.nodeLink(file);
  await new Promise((r) => setTimeout(r, 1_100));
  const renewed = await m.role.nodeLink(file);
  t.not(renewed.token, old.token);
  t.is((await stored(file)).token, renewed.token);
  t.is((await stat(file)).mode & 0o777, 0o600);
  await t.notThrowsAsync(m.client(renewed.token).call('GET', '/oapi/v1/schedulers'));
  const refused = await t.throwsAsync(m.client(old.token).call('GET', '/oapi/v1/schedulers'));
  t.true(isD7yError(refused, 'D7Y_UNAUTHENTICATED'), String(refused));
});

test('a credential issued by another manager database is replaced by one of this database', async (t) => {
  const file = join(await tmpDir(t), 'node-credential.json');
  const first = await (await startManager(t)).role.nodeLink(file);
  const other = await startManager(t);
  const link = await other.role.nodeLink(file);
  t.not(link.token, first.token);
  await t.notThrowsAsync(other.client(link.token).call('GET', '/oapi/v1/schedulers'));
});

test('a node token deactivated on the manager is refused with the file and the way back', async (t) => {
  const m = await startManager(t);
  const file = join(await tmpDir(t), 'node-credential.json');
  await m.role.nodeLink(file);
  const { tokenId } = await stored(file);
  await m.root.call('PATCH', `/api/v1/personal-access-tokens/${tokenId}`, { state: 'inactive' });
  const err = await t.throwsAsync(m.role.nodeLink(file));
  t.true(isD7yError(err, 'D7Y_PERMISSION_DENIED'));
  t.regex(err!.message, new RegExp(`node credential .*node-credential\\.json \\(id ${tokenId}\\) is deactivated`));
  t.regex((err as { fix?: string }).fix ?? '', /activate it again .* or delete .*node-credential\.json/);
});

test('a credential file readable by others is set back to 0600 and still used', async (t) => {
  const m = await startManager(t);
  const file = join(await tmpDir(t), 'node-credential.json');
  const link = await m.role.nodeLink(file);
  await chmod(file, 0o644);
  t.deepEqual(await m.role.nodeLink(file), link);
  t.is((await stat(file)).mode & 0o777, 0o600);
});

test('an unreadable or ill-formed credential file is refused with its path and a fix', async (t) => {
  const m = await startManager(t);
  const dir = await tmpDir(t);
  const notAFile = join(dir, 'node-credential.json');
  await mkdir(notAFile);
  const unreadable = await t.throwsAsync(m.role.nodeLink(notAFile));
  t.true(isD7yError(unreadable, 'D7Y_CONFIG_INVALID'));
  t.is(unreadable!.message, `cannot read the node credential ${notAFile}: EISDIR`);

  const file = join(dir, 'other.json');
  await writeFile(file, JSON.stringify({ version: 1, tokenId: 'x', userId: 'y', token: 'secret-but-wrong', createdAt: 'now' }), { mode: 0o600 });
  const bad = await t.throwsAsync(m.role.nodeLink(file));
  t.true(isD7yError(bad, 'D7Y_CONFIG_INVALID'));
  t.regex(bad!.message, /other\.json is corrupt: token: .*; createdAt: .*; expiresAt: /);
  t.notRegex(bad!.message, /secret-but-wrong/, 'the stored value is never echoed');
  t.regex((bad as { fix?: string }).fix ?? '', /^delete .*other\.json and start again/);
});
