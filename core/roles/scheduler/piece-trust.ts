import type { Logger } from '../../logging/logger.js';
import { isContentDigest } from '../../task/content-hash.js';
import type { HostRecord, PeerRecord, TaskRecord } from './resource/records.js';
import { MAX_PIECES_PER_PEER } from './resource/records.js';
import type { SchedulerResources } from './resource/scheduler-resources.js';
import type { SchedulerMetrics } from './scheduler-metrics.js';

/** Peer states that still fetch pieces from parents and so need trusted digests. */
const FETCHING = new Set(['pending', 'received-normal', 'running']);

/**
 * The trusted piece digests of tasks and the parents blocked for corrupting them. A digest is
 * trusted when a peer that read the origin reports it (a back-to-source piece, or a held task):
 * a seed peer's always, replacing a normal peer's; a normal peer's only while the cluster has
 * no live seed peer (those reported while one was live are kept aside, and trusted for the pieces
 * it never reported if it is lost mid-download). The first trusted digest of a piece stays. Children get every known digest
 * when they register and each new one as it is reported, and check their parents' bytes
 * against them; a child that reports a corrupt piece gets the parent's host blocked for the task.
 */
export class PieceTrust {
  constructor(
    private readonly resources: SchedulerResources,
    /** Whether the task has a live seed peer (whose digests are then the only trusted ones). */
    private readonly seedKnown: (task: TaskRecord) => boolean,
    private readonly metrics: SchedulerMetrics,
    private readonly logger: Logger,
  ) {}

  /** Whether a child of the task can be given the digests of a seed peer (else the seed should fetch the task). */
  hasSeedDigests(task: TaskRecord): boolean {
    return task.trust.from === 'seed' && task.trust.digests.size > 0;
  }

  /** Records the digests a host reports for pieces it read from the origin, and sends the new ones to the task's children. */
  record(task: TaskRecord, host: HostRecord, pieces: { number: number; digest: string }[]): void {
    const trust = task.trust;
    if (trust.blockedHosts.has(host.id)) return;
    const valid = pieces.filter((p) => isContentDigest(p.digest) && p.number < MAX_PIECES_PER_PEER && (task.pieceCount === 0 || p.number < task.pieceCount));
    if (valid.length === 0) return;
    if (host.type === 'super') {
      if (trust.from !== 'seed') trust.digests.clear();
      trust.from = 'seed';
    } else if (this.seedKnown(task)) {
      trust.heldBack ??= new Map();
      for (const p of valid) if (!trust.digests.has(p.number)) trust.heldBack.set(p.number, { digest: p.digest, hostId: host.id });
      return;
    } else {
      // With no live seed, a normal peer's digests are trusted, also for the pieces a lost seed never reported.
      trust.from ??= 'peer';
    }
    const fresh: { number: number; digest: string }[] = [];
    for (const p of valid) {
      const known = trust.digests.get(p.number);
      if (known) {
        if (known.digest !== p.digest) {
          this.logger.warn({ taskId: task.id, piece: p.number, host: host.id, reported: p.digest, trusted: known.digest, trustedFrom: known.hostId },
            'a peer reported another digest for a piece read from the origin; the first one stays');
        }
        continue;
      }
      trust.digests.set(p.number, { digest: p.digest, hostId: host.id });
      fresh.push(p);
    }
    if (fresh.length === 0) return;
    for (const peer of task.peers.values()) if (peer.host !== host && FETCHING.has(peer.state)) peer.channel?.pieceDigests(fresh);
  }

  /**
   * The task's seed was found unreachable: once no live seed is left, the digests normal peers
   * reported from the origin meanwhile are trusted for the pieces without one, and sent to the
   * children still fetching, so they need not wait for digests that will not come.
   */
  seedLost(task: TaskRecord): void {
    const held = task.trust.heldBack;
    if (!held || this.seedKnown(task)) return;
    task.trust.heldBack = undefined;
    const fresh: { number: number; digest: string }[] = [];
    for (const [number, d] of held) {
      if (task.trust.digests.has(number) || task.trust.blockedHosts.has(d.hostId)) continue;
      task.trust.digests.set(number, d);
      fresh.push({ number, digest: d.digest });
    }
    task.trust.from ??= 'peer';
    if (fresh.length === 0) return;
    this.logger.info({ taskId: task.id, pieces: fresh.length }, 'seed lost: digests reported by peers that read the origin are trusted');
    for (const peer of task.peers.values()) if (FETCHING.has(peer.state)) peer.channel?.pieceDigests(fresh);
  }

  /** Sends every known digest of the task to a child that just registered. */
  sendKnown(task: TaskRecord, peer: PeerRecord): void {
    if (task.trust.digests.size === 0) return;
    peer.channel?.pieceDigests([...task.trust.digests].map(([number, { digest }]) => ({ number, digest })));
  }

  /**
   * A child says a parent's bytes for `piece` did not match the trusted digest: the parent's host
   * is never offered for the task again, and digests it reported are forgotten.
   */
  corrupt(task: TaskRecord, child: PeerRecord, parentId: string, piece: number): void {
    this.metrics.corruptPieces.inc();
    const parent = task.peers.get(parentId);
    if (!parent) return;
    if (!this.resources.blockHost(task, parent.host.id)) return;
    this.metrics.blockedParents.inc();
    for (const [n, d] of task.trust.digests) if (d.hostId === parent.host.id) task.trust.digests.delete(n);
    this.logger.warn({ taskId: task.id, parent: parentId, host: parent.host.id, child: child.id, piece },
      'parent blocked for the task: it served a piece that does not match its trusted digest');
  }
}
