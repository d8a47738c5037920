import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import test from 'ava';
import { taskId } from '../../core/index.js';
import { VortexClient } from '../../core/protocol/vortex/vortex-client.js';
import { VORTEX_NONCE_LENGTH, type ClusterAuth } from '../../core/protocol/auth/cluster-auth.js';
import { encodeAuthProofFrame, encodeDownloadPieceFrame } from '../../core/protocol/vortex/vortex-frames.js';
import { VORTEX_HEADER_LENGTH } from '../../core/protocol/vortex/vortex-tags.js';
import { freePort } from '../support/env.js';
import { startOriginServer } from '../support/origin-server.js';
import { runCli } from '../support/run-cli.js';
import { P2PCluster, TEST_PIECE_FLOOR, testBytes } from './p2p-cluster.js';

const MIB = 1024 * 1024;
const PIECES = 7;

/**
 * A member of the cluster (it answers the Vortex auth challenge) that asks the seed for every
 * piece of `id` and never reads an answer.
 */
function vortexHog(port: number, id: string, auth: ClusterAuth): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const challenge = VORTEX_HEADER_LENGTH + VORTEX_NONCE_LENGTH;
    let got = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      got = Buffer.concat([got, d]);
      if (got.length < challenge) return;
      s.off('data', onData);
      s.pause();
      s.write(encodeAuthProofFrame(auth.vortexProof(got.subarray(VORTEX_HEADER_LENGTH, challenge))));
      // Every piece four times: more than the kernel's socket buffers on both sides can hold, so
      // the seed is left with bytes it cannot send, whatever size its reads and writes are.
      for (let i = 0; i < 4 * PIECES; i++) s.write(encodeDownloadPieceFrame(i + 1, { taskId: id, number: i % PIECES }));
      resolve(s);
    };
    s.on('data', onData);
    s.on('error', reject);
  });
}

/** The same over the piece HTTP endpoint: a GET whose answer is never read. */
function httpHog(port: number, id: string, n: number, auth: Record<string, string>): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => {
      s.pause();
      const headers = Object.entries(auth).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      s.write(`GET /pieces/${id}/${n} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}\r\n`);
      resolve(s);
    });
    s.on('error', reject);
  });
}

/** Reads what a hog's connection still holds: the bytes it got, and whether the seed had closed it (false when it stays open 3 s). */
const drain = (s: Socket) => new Promise<{ bytes: number; closed: boolean }>((resolve) => {
  let bytes = 0;
  const timer = setTimeout(() => { s.destroy(); resolve({ bytes, closed: false }); }, 3_000);
  s.on('data', (d: Buffer) => { bytes += d.length; }).on('error', () => undefined)
    .on('close', () => { clearTimeout(timer); resolve({ bytes, closed: true }); });
  s.resume();
});

test('8 clients that never read do not slow a seed\'s other children; they are cut after the write time-out; Vortex refuses piece kinds it does not serve', async (t) => {
  t.timeout(120_000);
  const x = testBytes(PIECES * MIB, 11);
  const y = testBytes(PIECES * MIB, 12);
  const origin = await startOriginServer(t, { files: { '/x.bin': x, '/y.bin': y } });
  const cluster = await P2PCluster.create(t);
  const scheduler = await cluster.scheduler();
  const [vortexPort, httpPort] = [await freePort(), await freePort()];
  const [seed, first, second] = await Promise.all([
    cluster.peer('seed', { seed: true, schedulers: [scheduler.address], peer: { upload: { port: vortexPort }, pieceHttp: { port: httpPort } } }),
    cluster.peer('first', { schedulers: [scheduler.address] }),
    cluster.peer('second', { schedulers: [scheduler.address] }),
  ]);
  const [xUrl, yUrl] = [origin.urlOf('/x.bin'), origin.urlOf('/y.bin')];
  for (const url of [xUrl, yUrl]) t.is((await runCli(['get', url, '-O', join(cluster.dir, `seed-${url.slice(-5)}`), '--socket', seed.socket])).code, 0);

  const timedGet = async (url: string, peer: { socket: string }) => {
    const started = performance.now();
    const r = await runCli(['get', url, '-O', join(cluster.dir, `out-${url.slice(-5)}`), '--socket', peer.socket, '--no-progress']);
    t.is(r.code, 0, r.stderr);
    return performance.now() - started;
  };
  const normal = await timedGet(xUrl, first);

  const yId = taskId({ url: yUrl });
  const hogsAt = Date.now();
  const hogs = await Promise.all(Array.from({ length: 8 }, () => vortexHog(vortexPort, yId, cluster.auth())));
  const httpHogs = await Promise.all(Array.from({ length: 4 }, (_, i) => httpHog(httpPort, yId, i, cluster.pieceAuth(yId, i))));
  await new Promise((r) => setTimeout(r, 300));
  const hogged = await timedGet(yUrl, second);
  t.log(`${PIECES} MiB from the seed (${TEST_PIECE_FLOOR / MIB} MiB pieces): ${normal.toFixed(0)} ms alone, ${hogged.toFixed(0)} ms beside 8 Vortex and 4 HTTP clients that never read`);
  t.true(hogged < normal * 2 + 1500, `${hogged} ms beside the hogs vs ${normal} ms alone`);

  // Each hog's send is cut 5 s after it stalled, also when all it waits on is the connection taking
  // the piece's last bytes. Twelve hogs share the seed's 8 upload slots: four get theirs only once a
  // stalled send gives it up (after 1 s, checked every 250 ms). 10 s leaves room for a loaded machine.
  await new Promise((r) => setTimeout(r, Math.max(0, hogsAt + 10_000 - Date.now())));
  const cut = await Promise.all([...hogs, ...httpHogs].map(drain));
  t.log(`10 s after they asked, the hogs got ${cut.map((c) => (c.bytes / MIB).toFixed(1)).join(', ')} MiB, then their connections ended`);
  t.true(cut.every((c) => c.closed), 'every never-reading connection was closed by the seed (5 s write time-out)');
  t.true(cut.slice(0, 8).every((c) => c.bytes < PIECES * MIB), 'no Vortex hog got all it asked for');

  const client = new VortexClient({ auth: cluster.auth() });
  t.teardown(() => client.close());
  const wrongKind = await t.throwsAsync(client.downloadPiece({ host: '127.0.0.1', port: vortexPort }, { taskId: yId, number: 0, kind: 'persistent' }));
  t.regex(wrongKind!.message, /refused the request as invalid \(this peer does not serve persistent pieces \(request tag 2\)/);
  const standard = await client.downloadPiece({ host: '127.0.0.1', port: vortexPort }, { taskId: yId, number: 0 });
  let bytes = 0;
  for await (const chunk of standard.body) bytes += (chunk as Buffer).length;
  t.is(bytes, TEST_PIECE_FLOOR, 'the standard piece is still served');
});
