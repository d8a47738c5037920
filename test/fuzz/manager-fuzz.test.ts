import test from 'ava';
import fc from 'fast-check';
import { Agent, request } from 'undici';
import { startLiveNode } from './live-node.js';

const RUNS = 5000;

/** Path parameters and query values that have broken parsers before: bad percent-encoding, huge or odd numbers. */
const nasty = fc.constantFrom('%FF%FE', '%', '%E0%A4%A', '%00', '99999999999999999999999', '-1', '1e400', 'NaN', '0x10', '..%2F..%2Fetc', '%C0%AE', '1'.repeat(300));
const segment = fc.oneof(nasty, fc.string({ maxLength: 40 }).map(encodeURIComponent), fc.uuid(), fc.nat().map(String));
const loopbackUrl = fc.constantFrom('http://127.0.0.1:1/a.bin', 'http://127.0.0.1:9/b', 'oci://127.0.0.1:1/repo:tag');
const deep = fc.integer({ min: 1, max: 2000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`);
const value: fc.Arbitrary<unknown> = fc.oneof(fc.jsonValue({ maxDepth: 5 }), fc.double(), fc.bigInt().map(String), fc.constant(1e308), fc.constant(-0));
const fieldy = fc.record({
  name: value, password: value, scopes: value, config: value, client_config: value, is_default: value, type: value, state: value,
  args: value, user: value, new_password: value, old_password: value, cluster: value, hostname: value, ip: value, port: value, expires_in: value,
}, { requiredKeys: [] });
const jobBody = fc.record({
  type: fc.constantFrom('preheat', 'delete_task', 'get_task', 'sync', 'x'),
  args: fc.record({ url: loopbackUrl, type: fc.constantFrom('file', 'image', 'x'), scope: fc.string(), piece_length: value, task_id: fc.string() }, { requiredKeys: [] }),
}, { requiredKeys: [] });

test('fuzzing the manager REST API (bodies, paths, query strings): no 5xx, no hang, no crash; a normal download works afterwards', async (t) => {
  t.timeout(150_000);
  const node = await startLiveNode(t);
  const doc = await (await fetch(`${node.managerUrl}/openapi.json`)).json() as { paths: Record<string, Record<string, unknown>> };
  const routes = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => ({ path, method: m.toUpperCase() })))
    .filter((r) => r.path !== '/api/v1/users/signout');
  t.true(routes.length > 30, `${routes.length} routes`);
  const agent = new Agent({ connections: 4, headersTimeout: 10_000, bodyTimeout: 10_000 });
  t.teardown(() => agent.close());
  const statuses = new Map<number, number>();

  const arbitrary = fc.record({
    route: fc.constantFrom(...routes),
    method: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE') }),
    params: fc.array(segment, { minLength: 3, maxLength: 3 }),
    extra: fc.oneof({ weight: 9, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: segment }),
    query: fc.array(fc.tuple(fc.constantFrom('page', 'per_page', 'limit', 'since', 'state', 'type', 'hostname', 'ip', 'idc', 'location', 'q', 'x', '%FF'), fc.oneof(nasty, fc.string({ maxLength: 30 }).map(encodeURIComponent))), { maxLength: 4 }),
    body: fc.oneof(
      { weight: 4, arbitrary: fieldy.map((b) => JSON.stringify(b)) },
      { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 8 }).map((b) => JSON.stringify(b)) },
      { weight: 1, arbitrary: deep.map((d) => `{"config":{"a":${d}}}`) },
      { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
      { weight: 1, arbitrary: fc.constant(undefined) },
    ),
    contentType: fc.constantFrom('application/json', 'application/json', 'application/json', 'text/plain', 'application/json; charset=latin1', undefined),
    auth: fc.constantFrom('session', 'session', 'session', 'none', 'bad-pat', 'bad-session'),
  });

  await fc.assert(fc.asyncProperty(arbitrary, async (c) => {
    let i = 0;
    let path = c.route.path.replace(/\{[^}]+\}|:[a-z_]+/gi, () => c.params[i++]!);
    if (c.extra) path += `/${c.extra}`;
    const method = c.method ?? c.route.method;
    const jobs = /\/jobs$/.test(c.route.path) && method === 'POST';
    const body = jobs ? JSON.stringify(fc.sample(jobBody, 1)[0]) : method === 'GET' ? undefined : c.body;
    const qs = c.query.map(([k, v]) => `${k}=${v}`).join('&');
    const headers: Record<string, string> = {};
    if (c.contentType && body !== undefined) headers['content-type'] = c.contentType;
    if (c.auth === 'session') headers.authorization = `Bearer ${path.startsWith('/oapi/') ? node.pat : node.session}`;
    if (c.auth === 'bad-pat') headers.authorization = 'Bearer d7y_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    if (c.auth === 'bad-session') headers.authorization = 'Bearer d7ys.e30.AAAA';
    const res = await request(`${node.managerUrl}${path}${qs ? `?${qs}` : ''}`, { method: method as 'GET', headers, body, dispatcher: agent });
    const text = await res.body.text();
    statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
    if (res.statusCode >= 500) throw new Error(`${method} ${path}?${qs} → ${res.statusCode} ${text.slice(0, 300)} (body ${String(body).slice(0, 200)})`);
  }), { numRuns: RUNS, endOnFailure: true, includeErrorInReport: true });

  t.log(`${RUNS} requests over ${routes.length} routes; statuses: ${[...statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(' ')}`);
  t.true(node.alive(), 'the node survived');
  const ms = await node.controlDownload(t);
  t.log(`control download of 9 MiB after the campaign: ${ms.toFixed(0)} ms`);
});
