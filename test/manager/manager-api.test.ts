import test, { type ExecutionContext } from 'ava';
import type { ManagerClient } from '../../core/protocol/manager/index.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { startManager, tenantUser } from './manager-harness.js';

let pg: PostgresServer | undefined;
let dbSeq = 0;
test.before(async () => { pg = await startPostgres(); });
test.after.always(async () => { await pg?.stop(); });

const DATABASES = ['sqlite', 'postgresql'] as const;
type DbKind = (typeof DATABASES)[number];

async function manager(t: ExecutionContext, db: DbKind, extra: Record<string, unknown> = {}) {
  const databaseUrl = db === 'postgresql' ? await pg!.createDatabase(`m${process.pid}_${++dbSeq}`) : undefined;
  return startManager(t, { databaseUrl, manager: extra });
}

async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (err) {
    return ((err as { details?: { status?: number } }).details?.status) ?? -1;
  }
}

const scheduler = (c: ManagerClient, hostname: string, cluster = 'c1', ip = '127.0.0.1', port = 9000) =>
  c.registerScheduler({ cluster, hostname, ip, port });

for (const db of DATABASES) {
  test(`${db}: tokens are shown once, stored hashed, scoped, revocable; sessions and PATs do not mix`, async (t) => {
    const m = await manager(t, db);
    const created = await m.root.createToken({ name: 'ci', scopes: ['job'] });
    t.regex(created.token, /^d7y_/);
    const listed = await m.root.listTokens();
    t.deepEqual(listed.map((x) => x.name), ['ci']);
    t.false(JSON.stringify(listed).includes(created.token), 'a listing never shows the token');
    t.deepEqual(listed[0]!.scopes, ['job']);
    const pat = m.client(created.token);
    t.deepEqual(await pat.listJobs(), []);
    t.is(await status(pat.call('GET', '/oapi/v1/clusters')), 403, 'job-only token refused on cluster routes');
    t.is(await status(pat.call('GET', '/api/v1/personal-access-tokens')), 401, 'a PAT is not a console session');
    t.is(await status(m.client(m.root.token).call('GET', '/oapi/v1/jobs')), 401, 'a session is not a PAT');
    await m.root.call('PATCH', `/api/v1/personal-access-tokens/${created.id}`, { state: 'inactive' });
    t.is(await status(pat.listJobs()), 403, 'inactive token refused');
    await m.root.revokeToken(created.id);
    t.is(await status(pat.listJobs()), 401, 'revoked token unknown');
    t.is(await status(m.client('d7y_forged').listJobs()), 401);
    t.is(await status(m.client().signIn('root', 'wrong-password')), 401);
  });

  test(`${db}: bodies are validated with the JSON path; errors carry code and fix`, async (t) => {
    const m = await manager(t, db);
    const pat = m.client((await m.root.createToken({ name: 'x' })).token);
    await scheduler(pat, 's1');
    const err = await t.throwsAsync(pat.createJob({ type: 'preheat', args: { url: 'https://o/x', piece_length: 1024 } }));
    t.is(err?.message.includes('body.args.piece_length'), true, err?.message);
    t.is((err as unknown as { code: string }).code, 'D7Y_INVALID_ARGUMENT');
    const bad = await t.throwsAsync(pat.createJob({ type: 'preheat', args: { url: 'https://o/x', scope: 'everyone' } }));
    t.regex(bad!.message, /body\.args\.scope/);
    const both = await t.throwsAsync(pat.createJob({ type: 'delete_task', args: {} }));
    t.regex(both!.message, /body\.args\.task_id: give exactly one of task_id and url/);
  });

  test(`${db}: schedulers register, keep alive, go inactive after the TTL; peers get them ranked by scope`, async (t) => {
    const m = await manager(t, db, { keepaliveTtl: 2500 });
    const pat = m.client((await m.root.createToken({ name: 'infra' })).token);
    const near = await pat.call<{ id: string }>('POST', '/oapi/v1/clusters', {
      name: 'near', scopes: { idc: 'idc-a|idc-b', location: 'cn|hz|x', cidrs: ['10.1.0.0/16'] }, client_config: { download: { concurrency: 3 } },
    });
    await pat.call('POST', '/oapi/v1/clusters', { name: 'far', scopes: { idc: 'idc-z', hostnames: ['^web-\\d+$'] }, is_default: true });
    const s1 = await scheduler(pat, 'sched-near', 'near', '10.1.0.5', 8002);
    const s2 = await scheduler(pat, 'sched-far', 'far', '10.9.0.5', 8002);
    t.is(s1.cluster_id, near.id);
    const byIdc = await pat.schedulersFor({ ip: '10.1.2.3', idc: 'idc-b', location: 'cn|hz|y' });
    t.deepEqual(byIdc.schedulers.map((s) => s.address), ['10.1.0.5:8002']);
    t.deepEqual(byIdc.clusters.map((c) => c.name), ['near', 'far']);
    t.is(byIdc.clusters[0]!.score, 0.606, 'CIDR 0.3 + IDC 0.25 + location 2/5 of 0.14');
    t.deepEqual(byIdc.client_config, { download: { concurrency: 3 } });
    const byHost = await pat.schedulersFor({ hostname: 'web-12', ip: '192.168.0.1' });
    t.deepEqual(byHost.schedulers.map((s) => s.address), ['10.9.0.5:8002']);
    const list = () => pat.call<{ hostname: string; state: string }[]>('GET', '/oapi/v1/schedulers');
    let states = await list();
    for (const deadline = Date.now() + 20_000; states.find((s) => s.hostname === 'sched-near')?.state !== 'inactive' && Date.now() < deadline;) {
      await new Promise((r) => setTimeout(r, 300));
      await pat.keepAliveScheduler(s2.id);
      states = await list();
    }
    t.deepEqual(states.map((s) => [s.hostname, s.state]), [['sched-far', 'active'], ['sched-near', 'inactive']]);
    const after = await pat.schedulersFor({ ip: '10.1.2.3', idc: 'idc-b' });
    t.deepEqual(after.schedulers.map((s) => s.address), ['10.9.0.5:8002'], 'an inactive cluster is never offered');
  });

  test(`${db}: dynamic config reaches schedulers with their next keepalive`, async (t) => {
    const m = await manager(t, db);
    const pat = m.client((await m.root.createToken({ name: 'infra' })).token);
    const reg = await scheduler(pat, 's1');
    t.deepEqual(reg.config, {});
    await pat.call('PATCH', `/oapi/v1/clusters/${reg.cluster_id}`, { config: { evaluator: 'nt', candidateParentLimit: 2 } });
    const ka = await pat.keepAliveScheduler(reg.id);
    t.deepEqual(ka.config, { evaluator: 'nt', candidateParentLimit: 2 });
    const bad = await t.throwsAsync(pat.call('PATCH', `/oapi/v1/clusters/${reg.cluster_id}`, { config: { candidateParentLimit: 99 } }));
    t.regex(bad!.message, /body\.config\.candidateParentLimit/);
  });

  test(`${db}: a job goes pending → running → succeeded with per-peer results, claimed by exactly one scheduler`, async (t) => {
    const m = await manager(t, db);
    const pat = m.client((await m.root.createToken({ name: 'jobs' })).token);
    const a = await scheduler(pat, 'sa');
    const b = await scheduler(pat, 'sb');
    const job = await pat.createJob({ type: 'preheat', args: { urls: ['https://origin/a', 'https://origin/b'], scope: 'all_peers', percentage: 50, headers: { authorization: 'Basic c2VjcmV0' } } });
    t.is(job.state, 'pending');
    t.deepEqual(job.args.headers, { authorization: '[redacted]' }, 'credentials in headers never leave the manager');
    const claims = await Promise.all([pat.claimJob(a.id), pat.claimJob(b.id)]);
    const winners = claims.filter((c) => c.job);
    t.is(winners.length, 1, 'one scheduler of the cluster runs the job');
    const claimed = winners[0]!.job!;
    t.deepEqual(claimed.args.urls, ['https://origin/a', 'https://origin/b']);
    t.deepEqual(claimed.args.headers, { authorization: 'Basic c2VjcmV0' }, 'the scheduler gets what it needs to fetch');
    const runner = claims[0]!.job ? a : b;
    t.is((await pat.getJob(job.id)).state, 'running');
    const results = [
      { host_id: 'h1', ip: '10.0.0.1', hostname: 'h1', url: 'https://origin/a', state: 'succeeded' as const },
      { host_id: 'h2', ip: '10.0.0.2', hostname: 'h2', url: 'https://origin/a', state: 'failed' as const, error: 'disk full' },
    ];
    const other = runner === a ? b : a;
    t.is(await status(pat.reportJob(job.id, { scheduler_id: other.id, state: 'succeeded', results })), 409, 'only the claimer reports');
    await pat.reportJob(job.id, { scheduler_id: runner.id, state: 'succeeded', results });
    const done = await pat.getJob(job.id);
    t.is(done.state, 'succeeded');
    t.is(done.succeeded_peers, 1);
    t.is(done.failed_peers, 1);
    t.deepEqual((await pat.listJobs()).map((j) => j.id), [job.id]);
  });

  test(`${db}: a job no scheduler finishes fails at its timeout`, async (t) => {
    const m = await manager(t, db, { jobs: { sweepInterval: 100 } });
    const pat = m.client((await m.root.createToken({ name: 'jobs' })).token);
    await scheduler(pat, 's1');
    const job = await pat.createJob({ type: 'get_task', args: { url: 'https://origin/a', timeout: 1000 } });
    t.regex(String(job.args.task_id), /^[0-9a-f]{64}$/);
    const deadline = Date.now() + 10_000;
    let state = job.state;
    while (state !== 'failed' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      state = (await pat.getJob(job.id)).state;
    }
    t.is(state, 'failed');
    t.regex((await pat.getJob(job.id)).runs[0]!.error ?? '', /timed out/);
  });

  test(`${db}: every call is audited, allowed or refused, and the log filters`, async (t) => {
    const m = await manager(t, db);
    const tok = await m.root.createToken({ name: 'auditor' });
    const pat = m.client(tok.token);
    await pat.listJobs();
    await status(m.client('d7y_nope').listJobs());
    await status(m.client(tok.token).call('GET', '/oapi/v1/nothing-here'));
    const all = await m.root.listAudits();
    const jobs = all.filter((a) => a.path === '/oapi/v1/jobs');
    t.deepEqual(jobs.map((a) => [a.actor_type, a.actor_name, a.method, a.status, a.success]).sort(),
      [['pat', 'auditor', 'GET', 200, true], ['unknown', '', 'GET', 401, false]]);
    const refused = await m.root.listAudits({ success: 'false' });
    t.true(refused.every((a) => !a.success));
    t.true(refused.some((a) => a.status === 401));
    const byActor = await m.root.listAudits({ actor_name: 'auditor', method: 'get' });
    t.true(byActor.length >= 1 && byActor.every((a) => a.actor_name === 'auditor' && a.method === 'GET'));
    const byPath = await m.root.listAudits({ path: '/api/v1/personal' });
    t.true(byPath.length >= 1 && byPath.every((a) => a.path.startsWith('/api/v1/personal')));
    const text = JSON.stringify(all);
    t.false(text.includes(tok.token), 'no token in the audit');
    t.false(text.includes(m.root.token!), 'no session token in the audit');
    t.false(text.includes('root-secret-password-1'), 'no password in the audit');
  });

  test(`${db}: /openapi.json lists every route; /healthz and /metrics answer`, async (t) => {
    const m = await manager(t, db);
    const doc = await (await fetch(`${m.url}/openapi.json`)).json() as { openapi: string; paths: Record<string, Record<string, unknown>> };
    t.is(doc.openapi, '3.1.0');
    for (const r of m.role.routes) {
      t.truthy(doc.paths[r.path.replace(/:(\w+)/g, '{$1}')]?.[r.method], `${r.method} ${r.path} documented`);
    }
    const create = doc.paths['/oapi/v1/jobs']!.post as { requestBody: { content: Record<string, { schema: unknown }> } };
    t.true(JSON.stringify(create.requestBody.content['application/json']!.schema).includes('piece_length'));
    t.deepEqual(await (await fetch(`${m.url}/healthz`)).json(), { status: 'ok', database: db });
    t.regex(await (await fetch(`${m.url}/metrics`)).text(), /d7y_manager_http_requests_total\{method="GET",route="\/healthz",status="200"\} 1/);
  });

  test(`${db}: tenants see only their own tokens, clusters, jobs and audits`, async (t) => {
    const m = await manager(t, db);
    const a = await tenantUser(m, 'alice', 'acme');
    const b = await tenantUser(m, 'bob', 'globex');
    const reg = await scheduler(a.pat, 'sa', 'shared-name');
    await scheduler(b.pat, 'sb', 'shared-name');
    const job = await a.pat.createJob({ type: 'get_task', args: { url: 'https://o/x' } });
    t.is(job.runs.length, 1, 'a job goes only to the tenant\'s clusters');
    t.is(job.runs[0]!.cluster_id, reg.cluster_id);
    t.deepEqual((await b.pat.listJobs()).length, 0);
    t.is(await status(b.pat.getJob(job.id)), 403);
    t.is(await status(b.pat.createJob({ type: 'get_task', args: { url: 'https://o/x' }, scheduler_cluster_ids: [reg.cluster_id] })), 403);
    t.deepEqual((await b.session.listTokens()).map((x) => x.name), ['bob-token']);
    t.false(JSON.stringify(await b.session.listAudits()).includes('alice'));
  });
}
