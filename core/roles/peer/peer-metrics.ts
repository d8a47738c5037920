import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import type { StorageStats } from '../../contracts/storage-medium.js';
import { TrafficType, type HeldPiece } from './tasks/task-state.js';

/**
 * Why a download (or the rest of it) went to the origin, label `reason` of
 * d7y_peer_back_to_source_total (and of d7y_peer_back_to_source_refused_total when it could not).
 */
export type BackToSourceReason =
  | 'small_object' | 'no_scheduler' | 'unknown_length' | 'seed_peer'
  | 'no_parent' | 'reschedules_exhausted' | 'no_trusted_digest' | 'scheduler_lost';

/** Outcome of one proxy or registry-mirror request (label `outcome` of d7y_peer_proxy_requests_total). */
export type ProxyOutcome = 'p2p' | 'direct' | 'tunnel' | 'refused' | 'failed';

const PIECE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const DOWNLOAD_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

/**
 * The peer's Prometheus metrics (`d7y_peer_…`, documented in docs/metrics.md). Counted once per
 * piece or per request, never per chunk. Storage and task gauges are read from `storage` at scrape time.
 */
export class PeerMetrics {
  readonly downloadBytes: Counter<'type'>;
  readonly sourceBytes: Counter<'source'>;
  readonly pieceSeconds: Histogram<'type'>;
  readonly backToSource: Counter<'reason'>;
  readonly backToSourceRefused: Counter<'reason'>;
  readonly downloads: Counter<'result'>;
  readonly downloadSeconds: Histogram<'result'>;
  readonly errors: Counter<'code'>;
  readonly uploadBytes: Counter;
  readonly uploadPieces: Counter<'result'>;
  readonly proxyRequests: Counter<'kind' | 'outcome'>;
  private storage?: () => Promise<StorageStats>;

  constructor(registry: Registry) {
    const registers = [registry];
    const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) => new Counter<L>({ name, help, labelNames, registers });
    const histogram = <L extends string>(name: string, help: string, labelNames: L[], buckets: number[]) =>
      new Histogram<L>({ name, help, labelNames, buckets, registers });
    this.downloadBytes = counter('d7y_peer_download_bytes_total',
      'Bytes downloaded, by traffic type: p2p (from peers), back_to_source (from the origin), local_hit (already held)', ['type']);
    this.sourceBytes = counter('d7y_peer_back_to_source_bytes_total', 'Bytes read from origins, by source plugin', ['source']);
    this.pieceSeconds = histogram('d7y_peer_piece_cost_seconds', 'Time to fetch and store one piece, by traffic type (p2p, back_to_source)', ['type'], PIECE_BUCKETS);
    this.backToSource = counter('d7y_peer_back_to_source_total', 'Downloads that went to the origin for some or all of their pieces, by reason', ['reason']);
    this.backToSourceRefused = counter('d7y_peer_back_to_source_refused_total',
      'Downloads that needed the origin while back-to-source was disabled (they failed), by reason', ['reason']);
    this.downloads = counter('d7y_peer_downloads_total', 'Download requests ended, by result (succeeded, failed)', ['result']);
    this.downloadSeconds = histogram('d7y_peer_download_duration_seconds', 'Duration of download requests, by result', ['result'], DOWNLOAD_BUCKETS);
    this.errors = counter('d7y_peer_errors_total', 'Failed download requests, by d7y error code', ['code']);
    this.uploadBytes = counter('d7y_peer_upload_bytes_total', 'Piece bytes sent to other peers and tools');
    this.uploadPieces = counter('d7y_peer_upload_pieces_total', 'Piece uploads ended, by result (succeeded, failed)', ['result']);
    this.proxyRequests = counter('d7y_peer_proxy_requests_total', 'Proxy (kind proxy) and registry-mirror (kind mirror) requests, by outcome', ['kind', 'outcome']);
    const read = this.readStorage();
    const gauge = (name: string, help: string, key: keyof StorageStats) => new Gauge({
      name, help, registers,
      async collect() {
        const s = await read();
        if (s) this.set(s[key]);
      },
    });
    gauge('d7y_peer_storage_used_bytes', 'Bytes the storage medium holds', 'usedBytes');
    gauge('d7y_peer_storage_free_bytes', 'Bytes the storage medium may still take', 'freeBytes');
    gauge('d7y_peer_tasks', 'Tasks held in the storage medium', 'taskCount');
  }

  /** The storage gauges read `stats` at each scrape from now on. */
  observe(stats: () => Promise<StorageStats>): void {
    this.storage = stats;
  }

  /** Counts a piece that landed from a parent or from the origin (through the source plugin `source`). */
  pieceLanded(piece: HeldPiece, source: string): void {
    const fromSource = piece.trafficType === TrafficType.BackToSource;
    const type = fromSource ? 'back_to_source' : 'p2p';
    this.downloadBytes.inc({ type }, piece.length);
    if (fromSource) this.sourceBytes.inc({ source }, piece.length);
    if (piece.cost !== undefined) this.pieceSeconds.observe({ type }, piece.cost / 1000);
  }

  /** Counts one download request that ended: its result, duration, the bytes it found held, and its error code. */
  downloadEnded(startedAt: number, localHitBytes: number, errorCode?: string): void {
    const result = errorCode ? 'failed' : 'succeeded';
    this.downloads.inc({ result });
    this.downloadSeconds.observe({ result }, (performance.now() - startedAt) / 1000);
    if (localHitBytes > 0) this.downloadBytes.inc({ type: 'local_hit' }, localHitBytes);
    if (errorCode) this.errors.inc({ code: errorCode });
  }

  /**
   * One storage read shared by the three gauges of a scrape (they collect one after the other);
   * undefined before `observe` or when the medium fails to answer.
   */
  private readStorage(): () => Promise<StorageStats | undefined> {
    let pending: { at: number; stats: Promise<StorageStats | undefined> } | undefined;
    return () => {
      const now = Date.now();
      if (!pending || now - pending.at > 1000) {
        pending = { at: now, stats: this.storage ? this.storage().catch(() => undefined) : Promise.resolve(undefined) };
      }
      return pending.stats;
    };
  }
}
