import test, { type ExecutionContext } from 'ava';
import type { ReportedCacheTask } from '../../core/protocol/manager/index.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { startManager, statusOf as status, tenantUser } from './manager-harness.js';

let pg: PostgresServer | undefined;
let dbSeq = 0;
test.before(async () => { pg = await startPostgres(); });
test.after.always(async () => { await pg?.stop(); });

const X = 'a1'.repeat(32);
const Y = 'b2'.repeat(32);
const NOW = Date.now();

function task(id: string, peers: [string, boolean][], createdAt = NOW): ReportedCacheTask {
  return {
    id, name: '', tag: '', application: '', piece_length: 4 << 20, content_length: 10 << 20, piece_count: 3, digest: `sha256:${'0'.repeat(64)}`,
    state: 'succeeded', persistent_replica_count: 2, ttl_ms: 3_600_000, created_at: createdAt, updated_at: createdAt,
    peers: peers.map(([host, persistent]) => ({ host_id: `${host}-id`, hostname: host, ip: '127.0.0.1', port: 1, download_port: 2, type: 'normal', persistent, since: createdAt })),
  };
}

async function cluster(t: ExecutionContext, db: 'sqlite' | 'postgresql') {
  const databaseUrl = db === 'postgresql' ? await pg!.createDatabase(`pc${process.pid}_${++dbSeq}`) : undefined;
  const m = await startManager(t, { databaseUrl });
  const sched = m.client((await m.root.createToken({ name: 'sched', scopes: ['cluster', 'job'] })).token);
  const user = m.client((await m.root.createToken({ name: 'ops', scopes: ['persistent_cache'] })).token);
  const a = await sched.registerScheduler({ cluster: 'c1', hostname: 'sa', ip: '127.0.0.1', port: 9001 });
  const b = await sched.registerScheduler({ cluster: 'c2', hostname: 'sb', ip: '127.0.0.1', port: 9002 });
  return { m, sched, user, a: a.id, b: b.id, c1: a.cluster_id };
}

for (const db of ['sqlite', 'postgresql'] as const) {
  test(`${db}: tasks reported by schedulers of two clusters are listed once with every holder; a delete is handed to each scheduler reporting the task and answered once they no longer do`, async (t) => {
    const { m, sched, user, a, b, c1 } = await cluster(t, db);
    t.deepEqual(await sched.reportCacheTasks(a, [task(X, [['p1', true], ['p2', true]])]), { delete_task_ids: [] });
    await sched.reportCacheTasks(b, [task(X, [['p3', false]]), task(Y, [['p4', true]], NOW + 1000)]);

    const list = await user.listCacheTasks();
    t.deepEqual(list.map((x) => x.task_id), [Y, X], 'newest first');
    const x = list[1]!;
    t.deepEqual(x.persistent_cache_peers.map((p) => [p.host.hostname, p.persistent]), [['p1', true], ['p2', true], ['p3', false]]);
    t.is(x.current_persistent_replica_count, 2);
    t.is(x.current_replica_count, 1);
    t.is(x.scheduler_cluster_ids.length, 2);
    t.deepEqual((await user.listCacheTasks({ scheduler_cluster_id: c1 })).map((v) => v.task_id), [X], 'filtered by cluster');
    t.is((await user.getCacheTask(Y)).persistent_cache_peers[0]!.host.hostname, 'p4');
    t.is(await status(user.listCacheTasks({ scheduler_cluster_id: 'nope' })), 404);

    // Another tenant sees none of them.
    const other = await tenantUser(m, 'eve', 'tenant-b', ['persistent_cache']);
    t.deepEqual(await other.pat.listCacheTasks(), []);
    t.is(await status(other.pat.getCacheTask(X)), 404);
    t.is(await status(other.pat.deleteCacheTask(X)), 404);

    // The delete waits for both schedulers of X; each learns it in its next report.
    const deleting = user.deleteCacheTask(X);
    const learn = async (id: string, left: ReportedCacheTask[]): Promise<string[]> => {
      for (;;) {
        const { delete_task_ids: ids } = await sched.reportCacheTasks(id, undefined);
        if (ids.length) {
          await sched.reportCacheTasks(id, left);
          return ids;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    t.deepEqual(await learn(a, []), [X]);
    t.deepEqual(await learn(b, [task(Y, [['p4', true]], NOW + 1000)]), [X], 'b is told too, and not about Y');
    const done = await deleting;
    t.is(done.state, 'deleted');
    t.deepEqual(done.hosts.map((h) => h.hostname), ['p1', 'p2', 'p3']);
    const gone = await t.throwsAsync(user.getCacheTask(X));
    t.regex(gone!.message, /was deleted/);
    t.deepEqual((await user.listCacheTasks()).map((v) => v.task_id), [Y]);
    t.is(await status(sched.listCacheTasks()), 403, 'a token without the persistent_cache scope is refused');
  });
}

test('a report is checked: a malformed task is refused with its JSON path, and only the scheduler\'s own tenant may report for it', async (t) => {
  const { m, sched, a } = await cluster(t, 'sqlite');
  const bad = await t.throwsAsync(sched.call('PUT', `/oapi/v1/schedulers/${a}/persistent-cache-tasks`, { tasks: [{ ...task(X, []), id: 'xyz' }] }));
  t.regex(bad!.message, /body\.tasks\.0\.id/);
  const other = await tenantUser(m, 'mallory', 'tenant-c', ['cluster']);
  t.is(await status(other.pat.reportCacheTasks(a, [task(X, [])])), 403);
});

