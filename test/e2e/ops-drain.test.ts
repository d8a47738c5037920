import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import test from 'ava';
import { freePort, tmpDir } from '../support/env.js';
import { startOriginServer } from '../support/origin-server.js';
import { runCli, startCli, waitForOutput } from '../support/run-cli.js';

const MIB = 1024 * 1024;

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() as Record<string, unknown> };
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('scheduler, peer and manager answer /healthz and /readyz; a peer is ready only while a scheduler takes its announce', async (t) => {
  const dir = await tmpDir(t);
  const [sched, schedOps, peerOps, manager] = [await freePort(), await freePort(), await freePort(), await freePort()];
  await writeFile(join(dir, 'scheduler.yaml'), `dataDir: ${dir}/s\nscheduler: { listen: { port: ${sched} } }\n`);
  await writeFile(join(dir, 'peer.yaml'), [
    `dataDir: ${dir}/p`,
    `peer: { schedulers: ["127.0.0.1:${sched}"], announceInterval: 1s, `,
    `  upload: { port: 0 }, rpc: { port: 0 }, pieceHttp: { port: 0 }, proxy: { enabled: false } }`,
  ].join('\n'));
  await writeFile(join(dir, 'manager.yaml'), `dataDir: ${dir}/m\nmanager: { listen: { port: ${manager} }, rootPassword: ops-test-password }\n`);
  // The test run sets the metrics ports to 0 through the environment, which wins over a file.
  const scheduler = startCli(t, ['scheduler', '-c', join(dir, 'scheduler.yaml')], { env: { D7Y_SCHEDULER__METRICS__LISTEN__PORT: String(schedOps) } });
  await waitForOutput(scheduler, /d7y: ready: .*\n/, 60_000);
  const peer = startCli(t, ['peer', '-c', join(dir, 'peer.yaml')], { env: { D7Y_PEER__METRICS__LISTEN__PORT: String(peerOps) } });
  const banner = await waitForOutput(peer, /d7y: ready: .*\n/, 60_000);
  t.regex(banner, new RegExp(`"metrics":"http://127\\.0\\.0\\.1:${peerOps}/metrics"`));
  const mgr = startCli(t, ['manager', '-c', join(dir, 'manager.yaml')]);
  await waitForOutput(mgr, /d7y: ready: .*\n/, 60_000);

  t.like(await getJson(`http://127.0.0.1:${schedOps}/healthz`), { status: 200, body: { status: 'ok', role: 'scheduler' } });
  t.like(await getJson(`http://127.0.0.1:${schedOps}/readyz`), { status: 200, body: { status: 'ready' } });
  t.like(await getJson(`http://127.0.0.1:${peerOps}/healthz`), { status: 200, body: { status: 'ok', role: 'peer' } });
  const ready = await getJson(`http://127.0.0.1:${peerOps}/readyz`);
  t.is(ready.status, 200);
  t.like(ready.body, { status: 'ready', checks: { scheduler: { ok: true } } });
  t.like(await getJson(`http://127.0.0.1:${manager}/healthz`), { status: 200, body: { status: 'ok', database: 'sqlite' } });
  t.like(await getJson(`http://127.0.0.1:${manager}/readyz`), { status: 200, body: { status: 'ready', database: 'sqlite' } });
  const unknown = await fetch(`http://127.0.0.1:${peerOps}/nope`);
  t.is(unknown.status, 404);
  t.regex(await unknown.text(), /\/healthz/);
  t.regex(await (await fetch(`http://127.0.0.1:${peerOps}/metrics`)).text(), /d7y_peer_/, 'the same listener serves /metrics');

  scheduler.kill('SIGKILL');
  const notReady = await until('the peer turning not ready', async () => {
    const r = await getJson(`http://127.0.0.1:${peerOps}/readyz`);
    return r.status === 503 ? r : undefined;
  }, 15_000);
  t.regex(JSON.stringify(notReady.body), /no scheduler has taken this host's announce/);
  t.like(await getJson(`http://127.0.0.1:${peerOps}/healthz`), { status: 200 }, 'alive while it has no scheduler');
});

test('SIGTERM drains a peer: no new connections, the upload in flight finishes whole, then exit 0', async (t) => {
  const dir = await tmpDir(t);
  const file = randomBytes(12 * MIB);
  const origin = await startOriginServer(t, { files: { '/big.bin': file } });
  const [pieceHttp, ops] = [await freePort(), await freePort()];
  await writeFile(join(dir, 'peer.yaml'), [
    `dataDir: ${dir}/data`,
    `peer: { schedulers: [], drainTimeout: 20s, pieceHttp: { port: ${pieceHttp} },`,
    `  upload: { port: 0, rateLimit: 2MiB/s }, rpc: { port: 0 }, proxy: { enabled: false } }`,
  ].join('\n'));
  const peer = startCli(t, ['peer', '-c', join(dir, 'peer.yaml')], { env: { D7Y_PEER__METRICS__LISTEN__PORT: String(ops) } });
  await waitForOutput(peer, /d7y: ready: .*\n/, 60_000);
  const socket = join(dir, 'data/peer/peer.sock');
  const got = await runCli(['get', origin.urlOf('/big.bin'), '-O', join(dir, 'out.bin'), '--socket', socket, '--no-progress']);
  t.is(got.code, 0, got.stderr);
  const taskId = (await runCli(['task', 'id', origin.urlOf('/big.bin')])).stdout.trim();
  const exited = new Promise<number | null>((resolve) => peer.once('exit', (code) => resolve(code)));
  let stderr = '';
  peer.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });

  // A 4 MiB piece at 2 MiB/s: about two seconds in flight.
  const body: Buffer[] = [];
  let firstByte!: () => void;
  const started = new Promise<void>((r) => { firstByte = r; });
  const upload = new Promise<{ status: number; bytes: Buffer }>((resolve, reject) => {
    request(`http://127.0.0.1:${pieceHttp}/pieces/${taskId}/1`, (res) => {
      res.on('data', (d: Buffer) => { body.push(d); firstByte(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes: Buffer.concat(body) }));
      res.on('error', reject);
    }).on('error', reject).end();
  });
  await started;
  const sentAt = Date.now();
  peer.kill('SIGTERM');
  const draining = await until('readyz saying draining', async () => {
    const r = await getJson(`http://127.0.0.1:${ops}/readyz`);
    return r.status === 503 ? r : undefined;
  }, 5_000);
  t.like(draining.body, { checks: { draining: { ok: false } } });
  const refused = await fetch(`http://127.0.0.1:${pieceHttp}/pieces/${taskId}/0`).then(() => 'served', (err: Error) => String((err.cause as Error | undefined)?.message ?? err));
  t.regex(refused, /ECONNREFUSED/, 'a new connection is refused while draining');

  const done = await upload;
  t.is(done.status, 200);
  t.true(done.bytes.equals(file.subarray(4 * MIB, 8 * MIB)), 'the piece in flight arrived whole');
  t.is(await exited, 0);
  t.true(Date.now() - sentAt >= 1000, 'the peer waited for the upload');
  t.regex(stderr, /draining[\s\S]*drained, stopping[\s\S]*stopped/);
});
