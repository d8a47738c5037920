import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import type { DownloadEnd } from './experiment/experiment-recorder.js';

/** Why the scheduler sent a peer to the origin (label `reason` of d7y_scheduler_back_to_source_total). */
export type SchedulerBackToSourceReason = 'seed_peer' | 'requested' | 'no_parent' | 'rounds_exhausted';

/** What the gauges read at scrape time. */
export interface SchedulerCensus {
  hosts: number;
  tasks: number;
  peers: number;
}

/**
 * The scheduler's Prometheus metrics (`d7y_scheduler_…`, documented in docs/metrics.md),
 * registered once per registry. The host, task and peer gauges are read from `census` at scrape time.
 */
export class SchedulerMetrics {
  readonly announceHost: Counter;
  readonly announcePeer: Counter<'type'>;
  readonly rounds: Counter<'result'>;
  readonly roundSeconds: Histogram;
  readonly seedTriggers: Counter<'result'>;
  readonly corruptPieces: Counter;
  readonly blockedParents: Counter;
  readonly backToSource: Counter<'reason'>;
  readonly backToSourceRefused: Counter<'reason'>;
  readonly downloads: Counter<'result'>;
  readonly downloadBytes: Counter<'type'>;
  readonly downloadSeconds: Histogram<'result'>;
  readonly errors: Counter<'code'>;
  readonly hosts: Gauge;
  readonly tasks: Gauge;
  readonly peers: Gauge;
  private census?: () => SchedulerCensus;

  constructor(registry: Registry) {
    const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
    const registers = [registry];
    this.announceHost = get('d7y_scheduler_announce_host_total', () => new Counter({
      name: 'd7y_scheduler_announce_host_total', help: 'AnnounceHost calls accepted', registers,
    }));
    this.announcePeer = get('d7y_scheduler_announce_peer_total', () => new Counter({
      name: 'd7y_scheduler_announce_peer_total', help: 'AnnouncePeer messages by type', labelNames: ['type'], registers,
    }));
    this.rounds = get('d7y_scheduler_rounds_total', () => new Counter({
      name: 'd7y_scheduler_rounds_total', help: 'Scheduling rounds by result (found, none)', labelNames: ['result'], registers,
    }));
    this.roundSeconds = get('d7y_scheduler_round_duration_seconds', () => new Histogram({
      name: 'd7y_scheduler_round_duration_seconds', help: 'Duration of one scheduling round',
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05], registers,
    }));
    this.seedTriggers = get('d7y_scheduler_seed_triggers_total', () => new Counter({
      name: 'd7y_scheduler_seed_triggers_total', help: 'Seed peer triggers by result', labelNames: ['result'], registers,
    }));
    this.corruptPieces = get('d7y_scheduler_corrupt_pieces_total', () => new Counter({
      name: 'd7y_scheduler_corrupt_pieces_total', help: 'Pieces children reported as not matching their trusted digest', registers,
    }));
    this.blockedParents = get('d7y_scheduler_blocked_parents_total', () => new Counter({
      name: 'd7y_scheduler_blocked_parents_total', help: 'Parent hosts blocked for a task for serving a corrupt piece', registers,
    }));
    this.backToSource = get('d7y_scheduler_back_to_source_total', () => new Counter({
      name: 'd7y_scheduler_back_to_source_total', help: 'Peers sent to the origin, by reason', labelNames: ['reason'], registers,
    }));
    this.backToSourceRefused = get('d7y_scheduler_back_to_source_refused_total', () => new Counter({
      name: 'd7y_scheduler_back_to_source_refused_total', help: 'Peers failed for want of a parent when they could not go to the origin, by reason (disabled, limit)',
      labelNames: ['reason'], registers,
    }));
    this.downloads = get('d7y_scheduler_downloads_total', () => new Counter({
      name: 'd7y_scheduler_downloads_total', help: 'Downloads reported finished, by result (succeeded, failed)', labelNames: ['result'], registers,
    }));
    this.downloadBytes = get('d7y_scheduler_download_bytes_total', () => new Counter({
      name: 'd7y_scheduler_download_bytes_total', help: 'Bytes of finished downloads as their peers reported them, by traffic type (p2p, back_to_source)',
      labelNames: ['type'], registers,
    }));
    this.downloadSeconds = get('d7y_scheduler_download_duration_seconds', () => new Histogram({
      name: 'd7y_scheduler_download_duration_seconds', help: 'Duration of finished downloads as their peers reported them, by result',
      labelNames: ['result'], buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600], registers,
    }));
    this.errors = get('d7y_scheduler_errors_total', () => new Counter({
      name: 'd7y_scheduler_errors_total', help: 'Errors answered to callers (gRPC calls and announce streams), by d7y error code', labelNames: ['code'], registers,
    }));
    const census = (key: keyof SchedulerCensus) => function collect(this: Gauge): void {
      const c = metricsOf.get(registry)?.census?.();
      if (c) this.set(c[key]);
    };
    this.hosts = get('d7y_scheduler_hosts', () => new Gauge({ name: 'd7y_scheduler_hosts', help: 'Hosts known', registers, collect: census('hosts') }));
    this.tasks = get('d7y_scheduler_tasks', () => new Gauge({ name: 'd7y_scheduler_tasks', help: 'Tasks known', registers, collect: census('tasks') }));
    this.peers = get('d7y_scheduler_peers', () => new Gauge({ name: 'd7y_scheduler_peers', help: 'Peers (downloads) known', registers, collect: census('peers') }));
    metricsOf.set(registry, this);
  }

  /** The gauges read `census` at each scrape from now on. */
  observe(census: () => SchedulerCensus): void {
    this.census = census;
  }

  /** Counts one finished download from what its peer reported. */
  downloadEnded(end: DownloadEnd): void {
    const result = end.succeeded ? 'succeeded' : 'failed';
    this.downloads.inc({ result });
    if (!end.stats) return;
    if (end.stats.peerBytes > 0) this.downloadBytes.inc({ type: 'p2p' }, end.stats.peerBytes);
    if (end.stats.sourceBytes > 0) this.downloadBytes.inc({ type: 'back_to_source' }, end.stats.sourceBytes);
    this.downloadSeconds.observe({ result }, end.stats.durationMs / 1000);
  }
}

/** The SchedulerMetrics of each registry, so a gauge's collect reads the census of the latest one. */
const metricsOf = new WeakMap<Registry, SchedulerMetrics>();
