import { D7yError } from '../../../errors/d7y-error.js';
import type { TaskState } from '../tasks/task-state.js';

/** The local API's view of a task: record, pieces held and, with `pieces`, where each came from. */
export function describeTask(s: TaskState, pieces: boolean): Record<string, unknown> {
  const byType: Record<string, number> = {};
  const parents = new Set<string>();
  for (const p of s.pieces.values()) {
    const t = p.trafficType === undefined ? 'stored' : ['back-to-source', 'remote-peer', 'local-peer'][p.trafficType] ?? String(p.trafficType);
    byType[t] = (byType[t] ?? 0) + 1;
    if (p.parentId) parents.add(p.parentId);
  }
  return {
    taskId: s.taskId, url: s.record?.url, contentLength: s.contentLength, pieceLength: s.pieceLength,
    pieceCount: s.totalPieces, heldPieces: s.pieces.size, finished: s.finished, running: Boolean(s.running),
    createdAt: s.record?.createdAt, lastAccessedAt: s.record?.lastAccessedAt, trafficTypes: byType, parentIds: [...parents].sort(),
    ...(pieces ? { pieces: [...s.pieces.values()].sort((a, b) => a.number - b.number).map((p) => ({
      number: p.number, offset: p.offset, length: p.length, digest: p.digest, parentId: p.parentId, trafficType: p.trafficType, cost: p.cost, createdAt: p.createdAt,
    })) } : {}),
  };
}

/** The error for a task this peer does not hold. */
export function taskNotHere(taskId: string): D7yError {
  return new D7yError('D7Y_TASK_NOT_FOUND', `task ${taskId} is not on this peer`, { fix: 'list the tasks this peer holds: `d7y task ls` (`GET /v1/tasks`, or list() in the SDK)' });
}
