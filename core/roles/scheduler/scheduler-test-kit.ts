import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { ServerWritableStream } from '@grpc/grpc-js';
import type { ExecutionContext } from 'ava';
import { rootContainer } from '../../di.js';
import type { CandidateParent, Evaluator } from '../../contracts/evaluator.js';
import { NodeConfigSchema } from '../../config/node-config.js';
import { silentLogger } from '../../logging/logger.js';
import { createMetricsRegistry } from '../../metrics/metrics.js';
import { DfdaemonUploadService } from '../../protocol/rpc/gen/dfdaemon.js';
import type { DownloadTaskRequest, DownloadTaskResponse } from '../../protocol/rpc/gen/dfdaemon.js';
import { HostType } from '../../protocol/rpc/gen/common.js';
import type { Host } from '../../protocol/rpc/gen/common.js';
import { SchedulerClient } from '../../protocol/rpc/scheduler-client.js';
import { EvaluatorRegistry } from '../../registry/evaluator-registry.js';
import { Tokens } from '../../tokens.js';
import { SchedulerRole } from './scheduler-role.js';
import { SchedulingPolicyToken } from './scheduling-policy-token.js';

/** Ranks by finished pieces, then peer id; a parent whose last piece took > 1 s is bad. */
export class PiecesEvaluator implements Evaluator {
  readonly name = 'pieces';
  rank(candidates: readonly CandidateParent[]): CandidateParent[] {
    return [...candidates].sort((a, b) => b.finishedPieceCount - a.finishedPieceCount || (a.peerId < b.peerId ? -1 : 1));
  }
  isBadParent(c: CandidateParent): boolean {
    return (c.pieceCostsMs.at(-1) ?? 0) > 1000;
  }
}

/** A SchedulerRole on 127.0.0.1:0 built in a child container, and a client for it; both stopped in teardown. */
export async function startScheduler(t: ExecutionContext, scheduler: Record<string, unknown> = {}) {
  const container = rootContainer.createChildContainer();
  const config = NodeConfigSchema.parse({ scheduler: { listen: { host: '127.0.0.1', port: 0 }, metrics: { listen: { port: 0 } }, retryInterval: 50, ...scheduler } });
  const evaluators = new EvaluatorRegistry();
  evaluators.add(new PiecesEvaluator(), 'test');
  const metrics = createMetricsRegistry();
  container.register(Tokens.Config, { useValue: config });
  container.register(Tokens.Logger, { useValue: silentLogger() });
  container.register(Tokens.Metrics, { useValue: metrics });
  container.register(Tokens.EvaluatorRegistry, { useValue: evaluators });
  container.register(SchedulingPolicyToken, { useValue: { evaluator: 'pieces' } });
  const role = container.resolve(SchedulerRole);
  await role.start();
  const client = new SchedulerClient({ addresses: [`127.0.0.1:${role.port}`], callTimeoutMs: 5000 });
  t.teardown(async () => {
    client.close();
    await role.stop();
  });
  return { role, client, metrics };
}

/** A fake dfdaemon whose DownloadTask records the request and answers one started message. */
export async function startFakeDfdaemon(t: ExecutionContext) {
  const calls: DownloadTaskRequest[] = [];
  const server = new Server();
  const unimplemented = (_: unknown, cb: (err: { code: number }) => void) => cb({ code: 12 });
  server.addService(DfdaemonUploadService, {
    downloadTask: (call: ServerWritableStream<DownloadTaskRequest, DownloadTaskResponse>) => {
      calls.push(call.request);
      call.write({ hostId: 'seed', taskId: '', peerId: '', response: {
        $case: 'downloadTaskStartedResponse', value: { contentLength: 0, responseHeader: {}, pieces: [], isFinished: false },
      } });
      call.end();
    },
    syncPieces: (call: ServerWritableStream<unknown, unknown>) => call.end(),
    statTask: unimplemented,
    deleteTask: unimplemented,
  });
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? rej(err) : res(p))));
  t.teardown(() => new Promise<void>((res) => server.tryShutdown(() => res())));
  return { port, calls };
}

export function hostMsg(id: string, over: Partial<Host> = {}): Host {
  return {
    id, ip: '127.0.0.1', hostname: id, type: HostType.HOST_TYPE_NORMAL, idc: '', location: '', uploadPort: 4005, rpcPort: 4000,
    maxTxBps: 100_000_000, txBps60s: 0, concurrentUploads: 0, uploadLimit: 200, uploadSuccessCount: 0,
    uploadFailedCount: 0, announcedAt: 0, ...over,
  };
}

/** Polls `fn` until it returns true, at most `ms` milliseconds. */
export async function until(fn: () => boolean | Promise<boolean>, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return fn();
}
