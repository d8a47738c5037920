import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LocalApiClient } from '../../core/protocol/local-api/local-api-client.js';

export const MIB = 1024 * 1024;

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** What a peer's local API says of a task it holds or downloads. */
export interface TaskStat {
  heldPieces: number;
  pieceCount?: number;
  finished: boolean;
  parentIds: string[];
  trafficTypes: Record<string, number>;
}

/** Polls the peer until it holds at least `pieces` pieces of the task; bounded by `timeoutMs`. */
export async function waitForPieces(client: LocalApiClient, taskId: string, pieces: number, timeoutMs = 60_000): Promise<TaskStat> {
  const deadline = Date.now() + timeoutMs;
  let last: TaskStat | undefined;
  while (Date.now() < deadline) {
    last = await (client.stat(taskId) as Promise<unknown> as Promise<TaskStat>).catch(() => undefined);
    if (last && last.heldPieces >= pieces) return last;
    await sleep(100);
  }
  throw new Error(`peer held ${last?.heldPieces ?? 0} of the ${pieces} pieces awaited after ${timeoutMs} ms`);
}
