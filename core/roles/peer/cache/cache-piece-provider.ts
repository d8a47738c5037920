import { D7yError } from '../../../errors/d7y-error.js';
import type { PieceFileSend, PieceProvider, PieceRequest } from '../../../protocol/vortex/index.js';

/**
 * Keeps the Vortex piece kinds apart: persistent-cache requests (tag 4) are served only for
 * persistent-cache tasks, standard requests (tag 0) only for the others; persistent (object
 * storage) and cache (memory) pieces are not kept by this peer. The pieces come from `inner`.
 */
export class CachePieceProvider implements PieceProvider {
  constructor(private readonly inner: PieceProvider, private readonly isCacheTask: (taskId: string) => boolean) {}

  getPiece(req: PieceRequest): ReturnType<PieceProvider['getPiece']> {
    const refused = this.refusal(req);
    return refused ? Promise.reject(refused) : this.inner.getPiece(req);
  }

  getPieceFile(req: PieceRequest): Promise<PieceFileSend | undefined> {
    const refused = this.refusal(req);
    if (refused) return Promise.reject(refused);
    return this.inner.getPieceFile ? this.inner.getPieceFile(req) : Promise.resolve(undefined);
  }

  private refusal(req: PieceRequest): D7yError | undefined {
    const cached = this.isCacheTask(req.taskId);
    if (req.kind === 'persistent-cache' && !cached) {
      return new D7yError('D7Y_TASK_NOT_FOUND', `persistent cache task ${req.taskId} is not on this peer`);
    }
    if (req.kind === 'standard' && cached) {
      return new D7yError('D7Y_TASK_NOT_FOUND', `task ${req.taskId} is a persistent cache task here: ask for it as one (Vortex tag 4)`);
    }
    if (req.kind === 'persistent' || req.kind === 'cache') {
      return new D7yError('D7Y_TASK_NOT_FOUND', `${req.kind} pieces are not kept by this peer (task ${req.taskId})`);
    }
    return undefined;
  }
}
