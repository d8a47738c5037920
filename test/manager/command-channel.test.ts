import test from 'ava';
import type { CommandView } from '../../core/protocol/manager/index.js';
import { hostMsg, startFakeDfdaemon, startScheduler, until } from '../../core/roles/scheduler/scheduler-test-kit.js';
import { startManager } from './manager-harness.js';

/** Issues a command to the one scheduler and waits for its acknowledgement; the answer and how long it took. */
async function issue(pat: ReturnType<Awaited<ReturnType<typeof startManager>>['client']>, req: { type: string; args?: Record<string, unknown> }) {
  const started = Date.now();
  const [cmd] = await pat.createCommand(req);
  let view: CommandView = cmd!;
  await until(async () => ['succeeded', 'failed'].includes((view = await pat.getCommand(cmd!.id)).state), 5_000);
  return { view, ms: Date.now() - started };
}

test('commands reach a running scheduler over its held wait within a second, and each result is readable through the API and audited', async (t) => {
  const m = await startManager(t);
  const token = (await m.root.createToken({ name: 'scheduler', scopes: ['job', 'cluster'] })).token;
  const pat = m.client(token);
  const { role, client } = await startScheduler(t, {
    candidateParentLimit: 4, manager: { url: m.url, token, cluster: 'edge', keepaliveInterval: '10s', jobPollInterval: '10s' },
  });
  t.true(await until(async () => (await pat.call<unknown[]>('GET', '/oapi/v1/schedulers')).length === 1, 5_000), 'the scheduler registered');
  await new Promise((r) => setTimeout(r, 300));

  const limits = await issue(pat, { type: 'set_limits', args: { candidateParentLimit: 7, maxBackToSourcePeersPerTask: 1 } });
  t.is(limits.view.state, 'succeeded');
  t.true(limits.ms < 1000, `acknowledged ${limits.ms} ms after it was issued (keepalive and job polls are 10 s apart)`);
  t.like(role.describe(), { candidateParentLimit: 7, maxBackToSourcePeersPerTask: 1 });
  t.deepEqual((limits.view.result as { changed: string[] }).changed.sort(), ['candidateParentLimit', 'maxBackToSourcePeersPerTask']);

  const [cluster] = await pat.call<{ id: string }[]>('GET', '/oapi/v1/clusters');
  await pat.call('PATCH', `/oapi/v1/clusters/${cluster!.id}`, { config: { candidateParentLimit: 9 } });
  const reload = await issue(pat, { type: 'reload_config' });
  t.is(reload.view.state, 'succeeded');
  t.true(reload.ms < 1000, `reload acknowledged in ${reload.ms} ms`);
  t.like(role.describe(), { candidateParentLimit: 9 }, 'the cluster config was applied at once, not at the next keepalive');
  t.log(`issued → acknowledged: set_limits ${limits.ms} ms, reload_config ${reload.ms} ms`);

  const fake = await startFakeDfdaemon(t);
  await client.announceHost(hostMsg('peer-1', { rpcPort: fake.port }));
  const gc = await issue(pat, { type: 'run_gc' });
  t.is(gc.view.state, 'succeeded');
  t.like(gc.view.result, { hosts_left: 1 });

  const del = await issue(pat, { type: 'delete_task', args: { task_id: 'a'.repeat(64) } });
  t.is(del.view.state, 'failed', 'a peer that could not delete makes the command fail');
  t.regex(del.view.error ?? '', /some peers failed/);

  const refused = await t.throwsAsync(pat.createCommand({ type: 'delete_task', args: { task_id: 'not-a-task' } }));
  t.regex(refused!.message, /task_id/);

  const audits = await m.root.listAudits({ limit: 200 });
  for (const c of [limits, reload, gc, del]) {
    t.true(audits.some((x) => x.method === 'PUT' && x.path === `/oapi/v1/commands/${c.view.id}/result`), `the acknowledgement of ${c.view.type} is in the audit log`);
  }
  t.true(audits.some((x) => x.method === 'POST' && x.path === '/oapi/v1/commands' && x.status === 201), 'issuing is in the audit log');
});
