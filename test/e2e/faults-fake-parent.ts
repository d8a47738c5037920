import { Server, ServerCredentials, status as GrpcStatus } from '@grpc/grpc-js';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExecutionContext } from 'ava';
import { contentDigest, pieceDigest, taskId as computeTaskId } from '../../core/index.js';
import { VortexServer } from '../../core/protocol/vortex/vortex-server.js';
import type { PieceProvider } from '../../core/protocol/vortex/piece-provider.js';
import { HostType } from '../../core/protocol/rpc/gen/common.js';
import { DfdaemonUploadService, type DfdaemonUploadServer } from '../../core/protocol/rpc/gen/dfdaemon.js';
import { SchedulerClient } from '../../core/protocol/rpc/scheduler-client.js';
import { ClusterAuth } from '../../core/protocol/auth/cluster-auth.js';
import { clusterSecretsOf } from './p2p-cluster.js';

export interface FakeParentOptions {
  name: string;
  scheduler: string;
  url: string;
  file: Buffer;
  pieceLength: number;
  /** The bytes to send for the k-th piece request (k from 1) of piece `n`, given the true bytes; may delay, or trickle them as a stream. */
  serve(k: number, bytes: Buffer, n: number): Promise<Buffer | Readable> | Buffer | Readable;
  /**
   * The bytes this parent claims piece `n` holds (default: the true ones): the digests it lists in
   * SyncPieces and Vortex (crc32) and reports to the scheduler as read from the origin (content
   * digest) are those of these bytes.
   */
  claim?(n: number, bytes: Buffer): Buffer;

  /** Announced peak upload bandwidth, so evaluators rank it high. */
  maxTxBps?: number;
  /** SyncPieces lists the pieces only this long after a child asks, so the child learns of other parents first. */
  announceDelayMs?: number;
  /**
   * The cluster secret it joins with (a member gone bad): by default that of the test cluster of
   * `scheduler`; null joins with none (the scheduler refuses it).
   */
  clusterSecret?: string | null;
}

export interface FakeParent {
  peerId: string;
  hostId: string;
  /** Piece requests served over Vortex. */
  readonly requests: number;
  /** SyncPieces streams children opened. */
  readonly syncs: number;
}

/**
 * A parent made of real protocol parts, misbehaving on purpose: a VortexServer whose provider
 * sends what `serve` returns (corrupted or delayed bytes under the true digest), a dfdaemon
 * SyncPieces that lists every piece (at once, or after `announceDelayMs`), and a host and
 * finished peer announced to the scheduler through SchedulerClient (as a peer that went back to
 * the source, reporting the content digests of the bytes it claims). Stopped at teardown.
 */
export async function startFakeParent(t: ExecutionContext, o: FakeParentOptions): Promise<FakeParent> {
  const taskId = computeTaskId({ url: o.url });
  const count = Math.ceil(o.file.length / o.pieceLength);
  const pieces = Array.from({ length: count }, (_, n) => {
    const offset = n * o.pieceLength;
    const bytes = o.file.subarray(offset, Math.min(o.file.length, offset + o.pieceLength));
    const claimed = o.claim ? o.claim(n, Buffer.from(bytes)) : bytes;
    return { number: n, offset, length: bytes.length, digest: pieceDigest(claimed), content: contentDigest(claimed), bytes };
  });
  let requests = 0;
  let syncs = 0;
  const provider: PieceProvider = {
    async getPiece(req) {
      const p = pieces[req.number]!;
      requests += 1;
      const body = await o.serve(requests, Buffer.from(p.bytes), p.number);
      return {
        meta: { number: p.number, offset: p.offset, length: p.length, digest: p.digest, parentId: '', trafficType: 0, cost: 0, createdAt: Date.now() },
        body: Buffer.isBuffer(body) ? Readable.from([body]) : body,
      };
    },
  };
  const secret = o.clusterSecret === undefined ? clusterSecretsOf(o.scheduler)?.clusterSecret : o.clusterSecret;
  const auth = secret ? new ClusterAuth(secret) : undefined;
  const vortex = new VortexServer({ host: '127.0.0.1', port: 0, provider, auth });
  await vortex.start();
  t.teardown(() => vortex.stop());

  const rpc = new Server();
  const unimplemented = (_call: unknown, cb: (err: { code: number; details: string }) => void): void =>
    cb({ code: GrpcStatus.UNIMPLEMENTED, details: 'not served by this parent' });
  const impl: DfdaemonUploadServer = {
    syncPieces: (call) => {
      syncs += 1;
      const list = (): void => {
        if (call.cancelled) return;
        for (const p of pieces) call.write({ number: p.number, offset: p.offset, length: p.length, digest: p.digest });
        call.end();
      };
      if (!o.announceDelayMs) return list();
      const timer = setTimeout(list, o.announceDelayMs);
      call.on('cancelled', () => clearTimeout(timer));
    },
    downloadTask: (call) => call.emit('error', { code: GrpcStatus.UNIMPLEMENTED, details: 'not served by this parent' }),
    statTask: unimplemented,
    deleteTask: unimplemented,
  };
  rpc.addService(DfdaemonUploadService, impl);
  const rpcPort = await new Promise<number>((resolve, reject) => {
    rpc.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
  });
  t.teardown(() => new Promise<void>((resolve) => rpc.tryShutdown(() => resolve())));

  const hostId = `127.0.0.1-${o.name}`;
  const peerId = `${hostId}-fake`;
  const scheduler = new SchedulerClient({ addresses: [o.scheduler], auth: auth && { auth, hostIdentity: `fake-${o.name}` } });
  t.teardown(() => scheduler.close());
  await scheduler.announceHost({
    id: hostId, ip: '127.0.0.1', hostname: o.name, type: HostType.HOST_TYPE_NORMAL, idc: '', location: '',
    uploadPort: vortex.port, rpcPort, maxTxBps: o.maxTxBps ?? 10 * 1024 ** 3, txBps60s: 0, concurrentUploads: 0, uploadLimit: 100,
    uploadSuccessCount: 0, uploadFailedCount: 0, announcedAt: Date.now(),
  });
  const session = scheduler.announcePeer({ hostId, taskId, peerId });
  t.teardown(() => session.cancel());
  await session.register({
    url: o.url, tag: '', application: '', filteredQueryParams: [], requestHeader: {}, disableBackToSource: false,
    needBackToSource: true, options: {}, contentLength: o.file.length,
  });
  const answer = await session.next({ timeoutMs: 20_000 });
  if (answer?.response?.$case !== 'needBackToSourceResponse') throw new Error(`fake parent expected need-back-to-source, got ${answer?.response?.$case}`);
  await session.backToSourceStarted();
  for (const p of pieces) {
    await session.backToSourcePieceFinished({
      number: p.number, parentId: '', offset: p.offset, length: p.length, digest: p.content, trafficType: 0, cost: 1, createdAt: Date.now(),
    });
  }
  await session.backToSourceFinished(o.file.length, count);
  await sleep(100);
  return { peerId, hostId, get requests() { return requests; }, get syncs() { return syncs; } };
}
