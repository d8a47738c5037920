import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import type { WebhookDeliveryView } from '../../core/protocol/manager/index.js';
import { until } from '../../core/roles/scheduler/scheduler-test-kit.js';
import { startPostgres } from '../support/postgres.js';
import { startManager, tenantUser } from './manager-harness.js';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  answered: number;
}

/** A webhook receiver on 127.0.0.1 answering `statuses` in turn (then 200), stopped in teardown. */
async function startReceiver(t: ExecutionContext, statuses: number[]) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answered = statuses.shift() ?? 200;
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), answered });
      res.writeHead(answered).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/d7y`, received };
}

/** The check docs/webhooks.md tells receivers to make, written here from the docs (not with d7y's code). */
function verify(secret: string, body: string, header: string): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!m || Math.abs(Date.now() / 1000 - Number(m[1])) > 300) return false;
  const want = createHmac('sha256', secret).update(`${m[1]}.${body}`).digest();
  return timingSafeEqual(want, Buffer.from(m[2]!, 'hex'));
}

async function signedOrderedRetried(t: ExecutionContext, databaseUrl?: string): Promise<void> {
  const m = await startManager(t, { databaseUrl, manager: { webhooks: { allowedHosts: ['127.0.0.1'], initialBackoff: 300 } } });
  const a = await tenantUser(m, 'alice', 'acme');
  const rx = await startReceiver(t, [500]);
  const hook = await a.pat.createWebhook({ url: rx.url, events: ['job.succeeded', 'job.failed'] });
  t.regex(hook.secret, /^whsec_/);
  t.false(JSON.stringify(await a.pat.listWebhooks()).includes(hook.secret), 'the secret is shown once, never listed');

  const sched = await a.pat.registerScheduler({ cluster: 'edge', hostname: 's1', ip: '127.0.0.1', port: 8002 });
  const ids: string[] = [];
  for (const state of ['succeeded', 'failed', 'succeeded'] as const) {
    const job = await a.pat.createJob({ type: 'get_task', args: { url: `https://origin.example/${state}-${ids.length}` } });
    const { job: claimed } = await a.pat.claimJob(sched.id);
    t.is(claimed?.id, job.id);
    await a.pat.reportJob(job.id, { scheduler_id: sched.id, state, results: [], error: state === 'failed' ? 'peer gone' : undefined });
    ids.push(job.id);
  }
  t.true(await until(() => rx.received.filter((r) => r.answered === 200).length === 3, 10_000), 'three events delivered');

  t.is(rx.received.length, 4, 'the first delivery was answered 500 and sent again; nothing else twice');
  const first = rx.received[0]!;
  const retry = rx.received[1]!;
  t.is(first.headers['d7y-delivery'], retry.headers['d7y-delivery'], 'the retry is the same delivery');
  const delivered = rx.received.filter((r) => r.answered === 200).map((r) => JSON.parse(r.body) as { event: string; data: { id: string; state: string } });
  t.deepEqual(delivered.map((d) => [d.event, d.data.id]), [['job.succeeded', ids[0]], ['job.failed', ids[1]], ['job.succeeded', ids[2]]],
    'delivered in the order the jobs ended, the retried one first');
  t.is(delivered[1]!.data.state, 'failed');
  for (const r of rx.received) {
    t.true(verify(hook.secret, r.body, String(r.headers['d7y-signature'])), 'the signature checks out with the webhook secret');
    t.false(verify('whsec_not-the-secret', r.body, String(r.headers['d7y-signature'])));
    t.is(r.headers['d7y-event'], (JSON.parse(r.body) as { event: string }).event);
  }

  const log = await a.pat.webhookDeliveries(hook.id);
  t.deepEqual(log.map((d) => d.state), ['delivered', 'delivered', 'delivered']);
  const oldest = log.at(-1)!;
  t.deepEqual(oldest.attempts.map((x) => x.status), [500, 200]);
  t.regex(oldest.attempts[0]!.error!, /HTTP 500/);
  const waited = Date.parse(oldest.attempts[1]!.at) - Date.parse(oldest.attempts[0]!.at);
  t.true(waited >= 250, `the retry waited for the back-off (${waited} ms)`);

  const audits = await a.session.listAudits();
  t.true(audits.some((x) => x.path === '/oapi/v1/webhooks' && x.method === 'POST'), 'creating a webhook is audited');
  await a.pat.deleteWebhook(hook.id);
  t.deepEqual(await a.pat.listWebhooks(), []);
}

test('job ends reach a webhook signed, in order, and a refused delivery is retried with back-off; the delivery log shows every attempt', (t) => signedOrderedRetried(t));

test('webhooks on PostgreSQL: signed, in order, retried', async (t) => {
  const pg = await startPostgres();
  t.teardown(() => pg.stop());
  await signedOrderedRetried(t, await pg.createDatabase('webhooks'));
});

test('webhooks only reach hosts the admin allowed: refused at creation, and refused at delivery when DNS points a listed name elsewhere', async (t) => {
  const m = await startManager(t, { manager: { keepaliveTtl: 300, jobs: { sweepInterval: 100 }, webhooks: { allowedHosts: ['localhost'], maxAttempts: 2, initialBackoff: 50 } } });
  const a = await tenantUser(m, 'bob', 'globex');
  for (const url of ['http://169.254.169.254/latest/meta-data', 'http://127.0.0.1:9/x', 'http://intranet.example/hook']) {
    const err = await t.throwsAsync(a.pat.createWebhook({ url, events: ['job.failed'] }));
    t.regex(err!.message, /not in the manager's allow-list/);
    t.regex((err as { fix?: string }).fix ?? '', /manager\.webhooks\.allowedHosts/);
  }
  const bad = await t.throwsAsync(a.pat.createWebhook({ url: 'ftp://localhost/x', events: ['job.failed'] }));
  t.regex(bad!.message, /not http or https/);

  // "localhost" is listed as a name, but resolves to a loopback address, which is not: every attempt is refused before connecting.
  const hook = await a.pat.createWebhook({ url: 'http://localhost:9/hook', events: ['scheduler.offline'] });
  await a.pat.registerScheduler({ cluster: 'edge', hostname: 'gone', ip: '127.0.0.1', port: 8002 });
  let log: WebhookDeliveryView[] = [];
  t.true(await until(async () => (log = await a.pat.webhookDeliveries(hook.id)).some((d) => d.state === 'failed'), 10_000), 'the offline event is given up');
  t.is(log.length, 1, 'one scheduler went offline once');
  t.is(log[0]!.event, 'scheduler.offline');
  t.like(log[0]!.payload.data, { hostname: 'gone', type: 'scheduler' });
  t.is(log[0]!.attempts.length, 2, 'maxAttempts bounds the retries');
  for (const x of log[0]!.attempts) {
    t.is(x.status, undefined, 'nothing was sent');
    t.regex(x.error!, /resolves to .*127\.0\.0\.1.*an address the allow-list does not cover/);
  }
});
