import test from 'ava';
import { request } from 'undici';
import { startManager } from './manager-harness.js';

async function raw(url: string, method: string, token: string | undefined, body?: string, headers: Record<string, string> = {}) {
  const res = await request(url, {
    method: method as 'GET', body, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
  });
  return { status: res.statusCode, headers: res.headers, body: await res.body.json() as { code: string; message: string } };
}

test('a catastrophic-backtracking hostname scope answers in milliseconds; patterns RE2 cannot run are refused when written', async (t) => {
  const m = await startManager(t);
  const pat = m.client((await m.root.createToken({ name: 'infra' })).token);
  await pat.call('POST', '/oapi/v1/clusters', { name: 'evil', scopes: { hostnames: ['^(a+)+$'] } });
  await pat.registerScheduler({ cluster: 'evil', hostname: 's1', ip: '127.0.0.1', port: 9000 });
  let ms = Infinity;
  let answer;
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    answer = await pat.schedulersFor({ hostname: `${'a'.repeat(254)}b` });
    ms = Math.min(ms, performance.now() - started);
  }
  t.log(`^(a+)+$ against a 255-character hostname: ${ms.toFixed(1)} ms (best of 3 requests)`);
  t.true(ms < 1000, `answered in ${ms} ms`);
  t.is(answer!.clusters[0]!.score, 0, 'no match');
  t.is((await pat.schedulersFor({ hostname: 'aaaa' })).clusters[0]!.score, 0.3, 'the pattern still matches what it should');
  const refused = await t.throwsAsync(pat.call('POST', '/oapi/v1/clusters', { name: 'look', scopes: { hostnames: ['(?<=web)-\\d+'] } }));
  t.regex(refused!.message, /body\.scopes\.hostnames\.0: expected a regular expression in RE2 syntax/);
});

test('bad input gets a 4xx naming the problem, never a 500: undecodable path ids, deep or large bodies, wrong types, huge numbers', async (t) => {
  const m = await startManager(t, { manager: { listen: { host: '127.0.0.1', port: 0, maxBodySize: '64KiB' } } });
  const token = m.root.token!;
  const badId = await raw(`${m.url}/api/v1/scheduler-clusters/%FF%FE`, 'GET', token);
  t.is(badId.status, 400);
  t.regex(badId.body.message, /percent-encoding/);
  t.is((await raw(`${m.url}/api/v1/jobs/%E0%A4%A`, 'GET', token)).status, 400);
  const deep = `{"name":"deep","config":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`;
  const tooDeep = await raw(`${m.url}/api/v1/seed-peer-clusters`, 'POST', token, deep);
  t.is(tooDeep.status, 400);
  t.regex(tooDeep.body.message, /deeper than 32 levels/);
  const arrays = await raw(`${m.url}/api/v1/seed-peer-clusters`, 'POST', token, `{"name":"deep","config":{"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`);
  t.is(arrays.status, 413, 'a 200 KB body over the 64 KiB limit');
  const strings = await raw(`${m.url}/api/v1/seed-peer-clusters`, 'POST', token, JSON.stringify({ name: 'brackets', config: { x: '[[[[{{{{'.repeat(100) } }));
  t.is(strings.status, 201, 'brackets inside strings are not nesting');
  t.is((await raw(`${m.url}/api/v1/jobs?page=1e400&per_page=99999999999999999999`, 'GET', token)).status, 400);
  t.is((await raw(`${m.url}/api/v1/jobs/99999999999999999999`, 'GET', token)).status, 404);
  t.is((await raw(`${m.url}/api/v1/users/signin`, 'POST', undefined, '[]')).status, 400);
  t.is((await raw(`${m.url}/api/v1/users/signin`, 'POST', undefined, '{"name":1,"password":{}}')).status, 400);
  t.is((await raw(`${m.url}/api/v1/users/signin`, 'POST', undefined, '{"name":')).status, 400);
  const charset = await raw(`${m.url}/api/v1/users/signin`, 'POST', undefined, '{}', { 'content-type': 'application/json; charset=utf-16' });
  t.true(charset.status === 400 || charset.status === 415, `an unsupported charset: ${charset.status}`);
});

test('sign-in locks a user out after 5 failures (429 with Retry-After, even with the right password) and an address after its limit', async (t) => {
  const m = await startManager(t, { manager: { auth: { maxFailedLoginsPerIp: 12 } } });
  await m.root.call('POST', '/api/v1/users', { name: 'alice', password: 'alice-password-1' });
  const signin = (name: string, password: string) => raw(`${m.url}/api/v1/users/signin`, 'POST', undefined, JSON.stringify({ name, password }));
  for (let i = 0; i < 5; i++) t.is((await signin('alice', 'wrong-password')).status, 401);
  const locked = await signin('alice', 'alice-password-1');
  t.is(locked.status, 429);
  t.regex(locked.body.message, /too many failed sign-ins for user "alice"/);
  const retryAfter = Number(locked.headers['retry-after']);
  t.true(retryAfter > 800 && retryAfter <= 900, `Retry-After ${retryAfter} s (15 minutes)`);
  t.is((await signin('root', 'root-secret-password-1')).status, 200, 'another user is not locked');
  for (let i = 0; i < 7; i++) t.is((await signin(`nobody-${i}`, 'wrong-password')).status, 401);
  const byIp = await signin('root', 'root-secret-password-1');
  t.is(byIp.status, 429, 'the address used up its 12 failures');
  t.regex(byIp.body.message, /too many failed sign-ins from/);
});

test('an unknown user name costs the same work as a wrong password', async (t) => {
  const m = await startManager(t, { manager: { auth: { maxFailedLogins: 100, maxFailedLoginsPerIp: 100 } } });
  const time = async (name: string) => {
    const started = performance.now();
    const r = await raw(`${m.url}/api/v1/users/signin`, 'POST', undefined, JSON.stringify({ name, password: 'wrong-password' }));
    t.is(r.status, 401);
    t.is(r.body.message, 'wrong user name or password');
    return performance.now() - started;
  };
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const known: number[] = [];
  const unknown: number[] = [];
  for (let i = 0; i < 9; i++) {
    known.push(await time('root'));
    unknown.push(await time(`ghost-${i}`));
  }
  const [k, u] = [median(known), median(unknown)];
  t.log(`median sign-in: wrong password ${k.toFixed(1)} ms, unknown user ${u.toFixed(1)} ms`);
  t.true(u > k * 0.6 && u < k * 1.6, `wrong password ${k} ms vs unknown user ${u} ms`);
});
