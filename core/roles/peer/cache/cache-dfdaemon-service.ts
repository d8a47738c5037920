import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import { D7yError } from '../../../errors/d7y-error.js';
import type { DfdaemonPersistentCacheServer } from '../../../protocol/rpc/gen/dfdaemon-persistent-cache.js';
import { toServiceError } from '../../../protocol/rpc/grpc-errors.js';
import type { PeerPersistentCache } from './peer-persistent-cache.js';

const HEX64 = /^[0-9a-f]{64}$/;

function unary<Req extends { taskId: string }, Res>(fn: (req: Req) => Promise<Res>): (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => void {
  return (call, cb) => {
    if (!HEX64.test(call.request.taskId)) {
      cb(toServiceError(new D7yError('D7Y_INVALID_ARGUMENT', `task_id ${JSON.stringify(call.request.taskId)} is not 64 lower-case hex characters`)));
      return;
    }
    fn(call.request).then((res) => cb(null, res), (err: unknown) => cb(toServiceError(err)));
  };
}

/** d7y.dfdaemon.v1.DfdaemonPersistentCache: what a scheduler asks of this peer (place a replica, delete a copy). */
export function cacheDfdaemonService(cache: PeerPersistentCache): DfdaemonPersistentCacheServer {
  return {
    downloadPersistentCacheTask: unary(async (req) => ({ held: await cache.place(req.taskId, req.persistent) })),
    deletePersistentCacheTask: unary(async (req) => ({ deleted: await cache.forget(req.taskId, 'the scheduler deleted the task') })),
  };
}
