import type { D7yError } from '../../errors/d7y-error.js';
import type { Logger } from '../../logging/logger.js';
import { DfdaemonUploadClient } from '../../protocol/rpc/dfdaemon-upload-client.js';
import { HashRing } from '../../protocol/rpc/hash-ring.js';
import type { Piece } from '../../protocol/rpc/gen/common.js';
import type { HostRecord, TaskRecord } from './resource/records.js';

/** What a seed said of a task it downloaded for a trigger: its peer id and the task's length. */
export interface SeedHeld {
  peerId: string;
  contentLength: number;
}

/**
 * Triggers seed peers. The seed host of a task is chosen by a consistent-hash ring over the live
 * super hosts keyed on the task id, and asked (DfdaemonUpload.DownloadTask with
 * need_back_to_source) to download the task from the source. At most one trigger per task is in
 * flight; `onPieces` hears the pieces the seed's answer names (held already, then each new one,
 * with its content digest), `onDone` whether the seed's download succeeded and, when it did, the
 * seed's peer id and the task's length. A seed host whose trigger finds it
 * unreachable (killed, its link down) is not picked, and so not counted as a live seed, until it
 * announces itself again.
 */
export class SeedPeerTrigger {
  private ring = new HashRing([]);
  private ringKey = '';
  private readonly inFlight = new Map<string, AbortController>();
  /** Seed hosts found unreachable, with when: skipped until they announce after that. */
  private readonly lost = new Map<string, number>();

  constructor(
    private readonly client: DfdaemonUploadClient,
    private readonly logger: Logger,
    private readonly timeoutMs: number,
    private readonly maxInFlight = 10_000,
  ) {}

  /** The seed host for the task among `hosts`, or undefined when there is none. */
  pick(taskId: string, hosts: Iterable<HostRecord>, now: number): HostRecord | undefined {
    const live = new Map<string, HostRecord>();
    const seen = new Set<string>();
    for (const h of hosts) {
      if (h.type !== 'super') continue;
      seen.add(h.id);
      const lostAt = this.lost.get(h.id);
      if (lostAt !== undefined && h.announcedAt <= lostAt) continue;
      if (lostAt !== undefined) this.lost.delete(h.id);
      if (h.rpcPort > 0 && now - h.announcedAt <= h.ttl) live.set(h.id, h);
    }
    for (const id of this.lost.keys()) if (!seen.has(id)) this.lost.delete(id);
    const key = [...live.keys()].sort().join('\n');
    if (key !== this.ringKey) {
      this.ring = new HashRing(live.keys());
      this.ringKey = key;
    }
    const id = this.ring.get(taskId);
    return id === undefined ? undefined : live.get(id);
  }

  /** Starts the seed's download of the task; false when a trigger is in flight or the cap is reached. */
  trigger(task: TaskRecord, seed: HostRecord, onDone: (ok: boolean, error?: unknown, held?: SeedHeld) => void,
    onPieces?: (pieces: Piece[]) => void): boolean {
    if (this.inFlight.has(task.id) || this.inFlight.size >= this.maxInFlight) return false;
    const abort = new AbortController();
    this.inFlight.set(task.id, abort);
    const address = { host: seed.ip, port: seed.rpcPort };
    this.logger.info({ taskId: task.id, seedHost: seed.id }, 'triggering seed peer');
    void (async () => {
      try {
        const stream = this.client.downloadTask(address, { ...task.download, needBackToSource: true },
          { signal: abort.signal, timeoutMs: this.timeoutMs });
        // Progress goes to the scheduler of the seed's own AnnouncePeer stream; the pieces named here
        // reach this scheduler too when that is another one (the seed's download began before a failover).
        let held: SeedHeld | undefined;
        for await (const res of stream) {
          const r = res.response;
          if (r?.$case === 'downloadTaskStartedResponse') {
            held = { peerId: res.peerId, contentLength: r.value.contentLength };
            if (r.value.pieces.length) onPieces?.(r.value.pieces);
          } else if (r?.$case === 'downloadPieceFinishedResponse' && r.value.piece) onPieces?.([r.value.piece]);
        }
        onDone(true, undefined, held);
      } catch (err) {
        if (!abort.signal.aborted) {
          const unreachable = (err as D7yError).code === 'D7Y_PEER_UNAVAILABLE';
          if (unreachable) this.lost.set(seed.id, Date.now());
          this.logger.warn({ taskId: task.id, seedHost: seed.id, err: (err as Error).message, unreachable },
            unreachable ? 'seed peer trigger failed: the seed is unreachable; not picked until it announces again' : 'seed peer trigger failed');
          onDone(false, err);
        }
      } finally {
        this.inFlight.delete(task.id);
      }
    })();
    return true;
  }

  /** Cancels the trigger of one task (task deleted). */
  cancel(taskId: string): void {
    this.inFlight.get(taskId)?.abort();
  }

  /** Cancels every trigger in flight and closes the channels. */
  close(): void {
    for (const a of this.inFlight.values()) a.abort();
    this.inFlight.clear();
    this.client.close();
  }
}
