import type { AnnouncePeerSession } from '../../../protocol/rpc/announce-peer-session.js';
import type { DownloadStats } from '../../../protocol/rpc/gen/scheduler.js';

/**
 * What one download did across all its announce sessions (one per scheduler it used): bytes from
 * peers and from the origin, piece failures and reschedules it reported, back-to-source, and
 * scheduler failovers. Sent with the download's last report so experiments see whole downloads.
 */
export class DownloadTally {
  readonly startedAt = Date.now();
  peerBytes = 0;
  sourceBytes = 0;
  backToSource = false;
  failovers = 0;
  private pieceFailures = 0;
  private reschedules = 0;

  /** Adds the reports of a session that is over (after a failover). */
  absorb(session: AnnouncePeerSession): void {
    this.pieceFailures += session.sent.get('downloadPieceFailedRequest') ?? 0;
    this.reschedules += session.sent.get('reschedulePeerRequest') ?? 0;
  }

  /** The stats so far, counting `current`'s reports too. */
  stats(current?: AnnouncePeerSession): DownloadStats {
    return {
      durationMs: Math.max(1, Date.now() - this.startedAt),
      peerBytes: this.peerBytes,
      sourceBytes: this.sourceBytes,
      pieceFailures: this.pieceFailures + (current?.sent.get('downloadPieceFailedRequest') ?? 0),
      reschedules: this.reschedules + (current?.sent.get('reschedulePeerRequest') ?? 0),
      backToSource: this.backToSource,
      schedulerFailovers: this.failovers,
    };
  }
}
