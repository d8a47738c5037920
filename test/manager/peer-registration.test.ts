import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { until } from '../../core/roles/scheduler/scheduler-test-kit.js';
import type { CommandView } from '../../core/protocol/manager/index.js';
import { repoRoot } from '../support/env.js';
import { startLinkedPeer } from '../support/linked-peer.js';
import { startManager, type StartedManager } from './manager-harness.js';

interface PeerView {
  id: string; host_id: string; type: string; hostname: string; ip: string; version: string; state: string; reported_state: string;
  ports: { rpc: number; upload: number; piece_http?: number };
  disk: { total: number; used: number; free: number };
  bandwidth: { upload_bps: number; download_bps: number; upload_limit: number; download_limit: number };
  last_keepalive_at: string;
}

const version = async () => (JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

/** A webhook receiver on 127.0.0.1 keeping each JSON body; stopped in teardown. */
async function startReceiver(t: ExecutionContext) {
  const bodies: { event: string; data: Record<string, unknown> }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as { event: string; data: Record<string, unknown> });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`, bodies };
}

test('peers and seed peers register with their version, ports, disk and bandwidth, keep alive, and go inactive with one peer.offline when they stop', async (t) => {
  const m = await startManager(t, { manager: { keepaliveTtl: 1_000, webhooks: { allowedHosts: ['127.0.0.1'] } } });
  const token = (await m.root.createToken({ name: 'nodes', scopes: ['cluster'] })).token;
  const pat = m.client(token);
  const rx = await startReceiver(t);
  await m.client((await m.root.createToken({ name: 'hooks', scopes: ['job'] })).token).createWebhook({ url: rx.url, events: ['peer.offline'] });

  const seed = await startLinkedPeer(t, m, token, { seed: true, hostname: 'seed-1' });
  const peer = await startLinkedPeer(t, m, token, { hostname: 'edge-1', uploadRateLimit: 50 * 1024 * 1024 });
  const list = () => pat.call<PeerView[]>('GET', '/oapi/v1/peers');
  t.true(await until(async () => (await list()).length === 2, 5_000), 'both registered');
  const [s, p] = await list();
  t.like(s, { type: 'seed', hostname: 'seed-1', host_id: '127.0.0.1-seed-1-seed', ip: '127.0.0.1', version: await version(), state: 'active', reported_state: 'running' });
  t.like(p, { type: 'normal', hostname: 'edge-1', host_id: '127.0.0.1-edge-1', version: await version(), state: 'active' });
  t.is(p!.ports.rpc, (peer.role.describe().rpcPort as number));
  t.is(p!.ports.upload, (peer.role.describe().uploadPort as number));
  t.true(p!.disk.total > 0 && p!.disk.free > 0 && p!.disk.used > 0 && p!.disk.free <= p!.disk.total, JSON.stringify(p!.disk));
  t.like(p!.bandwidth, { upload_limit: 50 * 1024 * 1024, download_limit: 0 });
  t.deepEqual((await pat.call<{ hostname: string; state: string }[]>('GET', '/oapi/v1/seed-peers')).map((x) => [x.hostname, x.state]), [['seed-1', 'active']],
    'the seed peer is in its seed-peer cluster too');

  const first = p!.last_keepalive_at;
  t.true(await until(async () => (await list())[1]!.last_keepalive_at !== first, 3_000), 'keepalives move last_keepalive_at');

  const stranger = m.client('d7y_not-a-token');
  const refused = await t.throwsAsync(stranger.call('POST', `/oapi/v1/peers/${p!.id}/keepalive`, { status: { disk: { total: 1, used: 0, free: 1 }, bandwidth: { upload_bps: 0, download_bps: 0, upload_limit: 0, download_limit: 0 } } }));
  t.is((refused as { code?: string }).code, 'D7Y_UNAUTHENTICATED', 'a caller without the token is refused');
  const jobsOnly = m.client((await m.root.createToken({ name: 'jobs', scopes: ['job'] })).token);
  t.is((await t.throwsAsync(jobsOnly.call('GET', '/oapi/v1/peers')) as { code?: string }).code, 'D7Y_PERMISSION_DENIED', 'a token without scope cluster is refused');

  await peer.stop();
  await new Promise((r) => setTimeout(r, 1_300));
  await m.role.sweep();
  await m.role.sweep();
  const after = await list();
  t.deepEqual(after.map((x) => [x.hostname, x.state]), [['seed-1', 'active'], ['edge-1', 'inactive']]);
  t.true(await until(async () => rx.bodies.length >= 1, 5_000), 'the webhook fired');
  await new Promise((r) => setTimeout(r, 300));
  t.deepEqual(rx.bodies.map((b) => [b.event, b.data.hostname, b.data.type]), [['peer.offline', 'edge-1', 'peer']], 'one peer.offline for the stopped peer, none for the live seed');

  await seed.stop();
  await new Promise((r) => setTimeout(r, 1_300));
  await m.role.sweep();
  t.true(await until(async () => rx.bodies.length >= 2, 5_000));
  await new Promise((r) => setTimeout(r, 300));
  t.deepEqual(rx.bodies.map((b) => [b.data.hostname, b.data.type]), [['edge-1', 'peer'], ['seed-1', 'seed_peer']], 'the seed peer is announced once, not once per table');
});

/** Issues a command to one peer and waits for its acknowledgement; the answer and how long it took. */
async function issue(pat: ReturnType<StartedManager['client']>, peerId: string, req: { type: string; args?: Record<string, unknown> }) {
  const started = performance.now();
  const [cmd] = await pat.createCommand({ ...req, peer_ids: [peerId] });
  let view: CommandView = cmd!;
  await until(async () => ['succeeded', 'failed'].includes((view = await pat.getCommand(cmd!.id)).state), 5_000);
  return { view, ms: Math.round(performance.now() - started) };
}

test('a command addressed to a peer reaches it over its own link and is acknowledged with its result within a second, audited', async (t) => {
  const m = await startManager(t);
  const token = (await m.root.createToken({ name: 'nodes', scopes: ['cluster'] })).token;
  const pat = m.client(token);
  const peer = await startLinkedPeer(t, m, token, { hostname: 'edge-2' });
  t.true(await until(async () => (await pat.call<PeerView[]>('GET', '/oapi/v1/peers')).length === 1, 5_000));
  const [p] = await pat.call<PeerView[]>('GET', '/oapi/v1/peers');
  await new Promise((r) => setTimeout(r, 300));

  const limits = await issue(pat, p!.id, { type: 'set_limits', args: { uploadRateLimit: 1_048_576, downloadRateLimit: 2_097_152 } });
  t.is(limits.view.state, 'succeeded', limits.view.error ?? '');
  t.like(limits.view, { target: 'peer', peer_id: p!.id, scheduler_id: null });
  t.true(limits.ms < 1000, `acknowledged ${limits.ms} ms after it was issued`);
  t.like(limits.view.result, { uploadRateLimit: 1_048_576, downloadRateLimit: 2_097_152 });
  t.like(peer.role.describe(), { download: { rateLimit: 2_097_152 } }, 'the peer applied the download limit');
  t.true(await until(async () => (await pat.call<PeerView>('GET', `/oapi/v1/peers/${p!.id}`)).bandwidth.upload_limit === 1_048_576, 3_000),
    'the next keepalive reports the new upload limit');

  const gc = await issue(pat, p!.id, { type: 'run_gc' });
  t.is(gc.view.state, 'succeeded', gc.view.error ?? '');
  t.like(gc.view.result, { evicted: 0 });
  const del = await issue(pat, p!.id, { type: 'delete_task', args: { task_id: 'a'.repeat(64) } });
  t.like(del.view, { state: 'succeeded', result: { deleted: false } });
  const reload = await issue(pat, p!.id, { type: 'reload_config' });
  t.like(reload.view, { state: 'succeeded', result: { refreshed: true } });
  t.log(`issued → acknowledged: set_limits ${limits.ms} ms, run_gc ${gc.ms} ms, delete_task ${del.ms} ms, reload_config ${reload.ms} ms`);
  for (const c of [gc, del, reload]) t.true(c.ms < 1000, `${c.view.type} acknowledged in ${c.ms} ms`);

  const wrongLimit = await t.throwsAsync(pat.createCommand({ type: 'set_limits', args: { candidateParentLimit: 3 }, peer_ids: [p!.id] }));
  t.regex(wrongLimit!.message, /uploadRateLimit, downloadRateLimit/);
  const unknown = await t.throwsAsync(pat.createCommand({ type: 'run_gc', peer_ids: ['no-such-peer'] }));
  t.regex(unknown!.message, /peer no-such-peer not found/);

  const audits = await m.root.listAudits({ limit: 200 });
  for (const c of [limits, gc, del, reload]) {
    t.true(audits.some((x) => x.method === 'PUT' && x.path === `/oapi/v1/commands/${c.view.id}/result` && x.status === 200), `the acknowledgement of ${c.view.type} is in the audit log`);
  }
  t.true((await pat.call<unknown[]>('GET', '/oapi/v1/commands', undefined, { peer_id: p!.id })).length === 4, 'the peer\'s commands are listed by peer_id');
});
