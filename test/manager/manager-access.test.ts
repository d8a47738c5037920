import test from 'ava';
import { request } from 'undici';
import type { ManagerRoute, ResourceKind } from '../../core/roles/manager/api/manager-route.js';
import { SourceRouter } from '../../core/registry/source-router.js';
import { S3SourceClient } from '../../sources/s3/s3-source-client.js';
import { startManager, tenantUser } from './manager-harness.js';

/** The only routes anyone may call without a token. */
const PUBLIC_ROUTES = ['POST /api/v1/users/signin'];

/**
 * Routes whose `:id` is a persistent-cache task id (a content digest, not a row of one tenant):
 * each tenant sees only what its own schedulers report, so another tenant's task is not found.
 */
const TASK_ID_ROUTES = new Set(['GET', 'DELETE'].flatMap((m) => ['/api/v1', '/oapi/v1'].map((p) => `${m} ${p}/persistent-cache-tasks/:id`)));

async function call(base: string, r: ManagerRoute, path: string, token?: string): Promise<{ status: number; text: string }> {
  const res = await request(`${base}${path}`, {
    method: r.method.toUpperCase() as 'GET',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: r.method === 'get' || r.method === 'delete' ? undefined : '{}',
  });
  return { status: res.statusCode, text: await res.body.text() };
}

test('every route checks authentication, scope, root role and tenant (table-driven over the route table)', async (t) => {
  const sources = new SourceRouter();
  sources.add(new S3SourceClient({ endpoint: 'http://127.0.0.1:9' }), 's3');
  const m = await startManager(t, { sources, manager: { webhooks: { allowedHosts: ['127.0.0.1'] } } });
  const a = await tenantUser(m, 'alice', 'acme');
  const b = await tenantUser(m, 'bob', 'globex');
  const aJobOnly = (await a.session.createToken({ name: 'job-only', scopes: ['job'] })).token;
  const aClusterOnly = (await a.session.createToken({ name: 'cluster-only', scopes: ['cluster'] })).token;
  const sched = await a.pat.registerScheduler({ cluster: 'acme-c', hostname: 's1', ip: '127.0.0.1', port: 8002 });
  const seed = await a.pat.registerSeedPeer({ cluster: 'acme-seeds', hostname: 'seed1', ip: '127.0.0.1', rpc_port: 4000 });
  const job = await a.pat.createJob({ type: 'get_task', args: { url: 'https://origin/x' } });
  const spc = await a.session.call<{ id: string }>('POST', '/api/v1/seed-peer-clusters', { name: 'acme-spc' });
  const cacheTask = 'c3'.repeat(32);
  await a.pat.reportCacheTasks(sched.id, [{
    id: cacheTask, name: '', tag: '', application: '', piece_length: 1, content_length: 1, piece_count: 1, digest: '', state: 'succeeded',
    persistent_replica_count: 1, ttl_ms: 3_600_000, created_at: Date.now(), updated_at: Date.now(), peers: [],
  }]);
  const hook = await a.pat.createWebhook({ url: 'http://127.0.0.1:9/hook', events: ['job.failed'] });
  const [command] = await a.pat.createCommand({ type: 'run_gc', scheduler_ids: [sched.id] });
  const sync = await a.pat.call<{ id: string }>('POST', '/oapi/v1/syncs', { source: 's3://bucket/prefix/', schedule: '0 0 1 1 *' });
  const peer = await a.pat.registerPeer({
    host_id: '127.0.0.1-edge', type: 'normal', hostname: 'edge', ip: '127.0.0.1', version: '0.0.0', ports: { rpc: 4000, upload: 4005 },
    status: { state: 'running', disk: { total: 1, used: 0, free: 1 }, bandwidth: { upload_bps: 0, download_bps: 0, upload_limit: 0, download_limit: 0 } },
  });
  const aTokens = await a.session.listTokens();
  const fixtures: Record<ResourceKind, string> = {
    'job': job.id, 'scheduler-cluster': sched.cluster_id, 'seed-peer-cluster': spc.id, 'token': aTokens[0]!.id,
    'scheduler': sched.id, 'seed-peer': seed.id, 'peer': peer.id, 'webhook': hook.id, 'command': command!.id, 'sync': sync.id,
  };
  const aIds = [...Object.values(fixtures), ...aTokens.map((x) => x.id), cacheTask];
  const checked: string[] = [];
  for (const r of m.role.routes) {
    const label = `${r.method.toUpperCase()} ${r.path}`;
    if (r.auth === 'public') {
      t.true(PUBLIC_ROUTES.includes(label), `${label} is public but not on the reviewed public list`);
      continue;
    }
    const hasId = r.path.includes(':id');
    const taskId = TASK_ID_ROUTES.has(label);
    t.is(Boolean(r.resource), hasId && !taskId, `${label}: a route with :id must name the resource kind whose tenant it checks`);
    const path = hasId ? r.path.replace(':id', taskId ? cacheTask : fixtures[r.resource!]) : r.path;
    t.is((await call(m.url, r, path)).status, 401, `${label} without a token`);
    t.is((await call(m.url, r, path, 'd7y_forged-token')).status, 401, `${label} with an unknown PAT`);
    t.is((await call(m.url, r, path, 'd7ys.e30.forged')).status, 401, `${label} with a forged session`);
    const own = r.auth === 'pat' ? a.token : a.sessionToken;
    const other = r.auth === 'pat' ? b.token : b.sessionToken;
    t.is((await call(m.url, r, path, r.auth === 'pat' ? a.sessionToken : a.token)).status, 401, `${label} with the wrong kind of token`);
    if (r.auth === 'pat') {
      t.truthy(r.scope, `${label}: every open-API route needs a scope`);
      const wrong = r.scope === 'job' ? aClusterOnly : aJobOnly;
      t.is((await call(m.url, r, path, wrong)).status, 403, `${label} with a token lacking scope ${r.scope}`);
    }
    if (r.rootOnly) t.is((await call(m.url, r, path, own)).status, 403, `${label} as a non-root user`);
    if (hasId) {
      const res = await call(m.url, r, path, other);
      t.is(res.status, taskId ? 404 : 403, `${label} on another tenant's ${taskId ? 'persistent-cache task' : r.resource}`);
    } else if (r.method === 'get' && !r.rootOnly && !r.path.includes('/:')) {
      const res = await call(m.url, r, path, other);
      t.is(res.status, 200, `${label} as the other tenant`);
      if (r.path === '/api/v1/audits') {
        const actors = new Set((JSON.parse(res.text) as { actor_name: string }[]).map((x) => x.actor_name));
        t.true(actors.has('bob'));
        t.true([...actors].every((x) => x === 'bob' || x === 'bob-token'), 'the audit shows only the tenant\'s own calls');
      } else {
        for (const id of aIds) t.false(res.text.includes(id), `${label} shows another tenant's ${id}`);
      }
    }
    checked.push(label);
  }
  t.true(checked.length >= 30, `checked ${checked.length} routes`);
});
