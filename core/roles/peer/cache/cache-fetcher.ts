import { createHash } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { StorageMedium } from '../../../contracts/storage-medium.js';
import { D7yError, toD7yError } from '../../../errors/d7y-error.js';
import type { Logger } from '../../../logging/logger.js';
import { pieceBounds } from '../../../task/piece-length.js';
import type { VortexClient } from '../../../protocol/vortex/index.js';
import type { TaskState } from '../tasks/task-state.js';
import { TrafficType } from '../tasks/task-state.js';
import { storageError } from './cache-importer.js';

/** A holder to fetch pieces from: its host id and Vortex address. */
export interface CacheSource {
  hostId: string;
  ip: string;
  uploadPort: number;
}

/** Tries of one piece across holders before the fetch fails (at least MIN_TRIES, a pause after each failure). */
const TRIES_PER_SOURCE = 2;
const MIN_TRIES = 5;
const RETRY_PAUSE_MS = 500;
/**
 * Pieces asked of one holder at once: many exporters of one task share its upload link, and a
 * send starved for the holder's stall time-out is cut; fewer streams each keep moving.
 */
const PER_SOURCE = 4;
/** A holder busy with a piece is asked again after this long, at most this many times. */
const BUSY_WAIT_MS = 250;
const MAX_BUSY_WAITS = 120;

/**
 * Fetches the pieces of a persistent-cache task a peer lacks from the holders the scheduler
 * named, over Vortex (persistent-cache piece requests, tags 4/5): at most `concurrency` pieces
 * at once (and PER_SOURCE per holder), holders taken in turn, each piece checked against the
 * crc32 its holder sent, a failed piece tried again on the next holder after a pause. Never goes
 * to any origin.
 */
export class CacheFetcher {
  constructor(
    private readonly vortex: Pick<VortexClient, 'openPiece'>,
    private readonly medium: StorageMedium,
    private readonly logger: Logger,
    private readonly concurrency: number,
  ) {}

  async fetch(state: TaskState, sources: CacheSource[], onBytes: (bytes: number) => void, signal: AbortSignal): Promise<void> {
    if (sources.length === 0) {
      throw new D7yError('D7Y_PEER_UNAVAILABLE', `no peer holding persistent cache task ${state.taskId} can be reached`, {
        fix: 'check that a holder is running (d7y cache stat shows them); a task whose every holder is gone must be imported again',
      });
    }
    const total = state.totalPieces ?? 0;
    const queue: number[] = [];
    for (let n = 0; n < total; n += 1) if (!state.has(n)) queue.push(n);
    let next = 0;
    let turn = 0;
    const worker = async (): Promise<void> => {
      while (next < queue.length) {
        const n = queue[next++]!;
        await this.piece(state, n, sources, turn++, signal);
        onBytes(state.heldBytes());
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, PER_SOURCE * sources.length, queue.length) }, worker));
  }

  /**
   * Reads the fetched copy back in order and checks it against the whole-file digest its import
   * recorded (`sha256:<hex>`), so a copy counts only when every byte is the imported file's, even
   * where a holder's piece checksums were computed over bad bytes. A mismatch is logged, naming the
   * holders the pieces came from, and rejected with D7Y_DIGEST_MISMATCH; the caller discards the copy.
   */
  async checkWhole(state: TaskState, digest: string, signal: AbortSignal): Promise<void> {
    const want = /^sha256:([0-9a-f]{64})$/.exec(digest)?.[1];
    if (!want) {
      this.logger.debug({ taskId: state.taskId, digest }, 'persistent cache copy has no sha256 content digest to check against');
      return;
    }
    const hash = createHash('sha256');
    for (let n = 0; n < (state.totalPieces ?? 0); n += 1) {
      signal.throwIfAborted();
      const body = await this.medium.readPiece(state.taskId, n);
      for await (const chunk of body) {
        hash.update(chunk as Buffer);
        body.recycle?.(chunk as Buffer);
      }
    }
    const got = hash.digest('hex');
    if (got === want) return;
    const from = [...new Set([...state.pieces.values()].map((p) => p.parentId).filter((id): id is string => id !== undefined))];
    this.logger.warn({ taskId: state.taskId, expected: digest, got: `sha256:${got}`, from }, 'persistent cache copy does not match its content digest; discarded');
    throw new D7yError('D7Y_DIGEST_MISMATCH',
      `the copy of persistent cache task ${state.taskId} fetched from ${from.join(', ') || 'its holders'} does not match the content digest its import recorded `
      + `(sha256:${got.slice(0, 16)}… instead of sha256:${want.slice(0, 16)}…); it was discarded`, {
        fix: 'a holder keeps a corrupt copy: remove the task (d7y cache rm) and import the file again',
      });
  }

  private async piece(state: TaskState, n: number, sources: CacheSource[], start: number, signal: AbortSignal): Promise<void> {
    const { offset, length } = pieceBounds(n, state.contentLength!, state.pieceLength);
    let last: D7yError | undefined;
    let busy = 0;
    const tries = Math.max(MIN_TRIES, sources.length * TRIES_PER_SOURCE);
    for (let i = 0; i < tries; i += 1) {
      signal.throwIfAborted();
      const src = sources[(start + i) % sources.length]!;
      const startedAt = Date.now();
      try {
        const { meta, body } = await this.vortex.openPiece({ host: src.ip, port: src.uploadPort },
          { taskId: state.taskId, number: n, kind: 'persistent-cache' }, { signal });
        if (meta.length !== length) {
          body.destroy();
          throw new D7yError('D7Y_PROTOCOL_ERROR', `holder ${src.hostId} sent ${meta.length} bytes for piece ${n}, expected ${length}`);
        }
        const rec = await this.medium.writePiece(state.taskId, { number: n, offset, length }, body, meta.digest);
        state.addPiece({ ...rec, parentId: src.hostId, trafficType: TrafficType.RemotePeer, cost: Date.now() - startedAt, createdAt: Date.now() });
        return;
      } catch (err) {
        if (signal.aborted) throw toD7yError(signal.reason, 'D7Y_ABORTED');
        const e = toD7yError(err, 'D7Y_PEER_UNAVAILABLE');
        if (e.code === 'D7Y_STORAGE_FULL' || /ENOSPC/.test(e.message)) throw storageError(e, `persistent cache task ${state.taskId}`);
        if (e.code === 'D7Y_RATE_LIMITED' && busy < MAX_BUSY_WAITS) {
          busy += 1;
          i -= 1;
          await delay(BUSY_WAIT_MS, undefined, { signal });
          continue;
        }
        last = e;
        this.logger.debug({ taskId: state.taskId, piece: n, holder: src.hostId, err: e.message }, 'persistent cache piece from a holder failed');
        if (i + 1 < tries) await delay(RETRY_PAUSE_MS, undefined, { signal });
      }
    }
    throw new D7yError('D7Y_PEER_UNAVAILABLE', `no holder of persistent cache task ${state.taskId} could serve piece ${n}: ${last?.message ?? 'no holder'}`, {
      fix: 'check that the holders are running (d7y cache stat), then export again', cause: last,
    });
  }
}
