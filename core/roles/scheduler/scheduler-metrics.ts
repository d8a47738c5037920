import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';

/** The scheduler's Prometheus metrics, registered once per registry. */
export class SchedulerMetrics {
  readonly announceHost: Counter;
  readonly announcePeer: Counter<'type'>;
  readonly rounds: Counter<'result'>;
  readonly roundSeconds: Histogram;
  readonly seedTriggers: Counter<'result'>;
  readonly corruptPieces: Counter;
  readonly blockedParents: Counter;
  readonly hosts: Gauge;
  readonly tasks: Gauge;

  constructor(registry: Registry) {
    const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
    this.announceHost = get('d7y_scheduler_announce_host_total', () => new Counter({
      name: 'd7y_scheduler_announce_host_total', help: 'AnnounceHost calls accepted', registers: [registry],
    }));
    this.announcePeer = get('d7y_scheduler_announce_peer_total', () => new Counter({
      name: 'd7y_scheduler_announce_peer_total', help: 'AnnouncePeer messages by type', labelNames: ['type'], registers: [registry],
    }));
    this.rounds = get('d7y_scheduler_rounds_total', () => new Counter({
      name: 'd7y_scheduler_rounds_total', help: 'Scheduling rounds by result (found, none)', labelNames: ['result'], registers: [registry],
    }));
    this.roundSeconds = get('d7y_scheduler_round_duration_seconds', () => new Histogram({
      name: 'd7y_scheduler_round_duration_seconds', help: 'Duration of one scheduling round',
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05], registers: [registry],
    }));
    this.seedTriggers = get('d7y_scheduler_seed_triggers_total', () => new Counter({
      name: 'd7y_scheduler_seed_triggers_total', help: 'Seed peer triggers by result', labelNames: ['result'], registers: [registry],
    }));
    this.corruptPieces = get('d7y_scheduler_corrupt_pieces_total', () => new Counter({
      name: 'd7y_scheduler_corrupt_pieces_total', help: 'Pieces children reported as not matching their trusted digest', registers: [registry],
    }));
    this.blockedParents = get('d7y_scheduler_blocked_parents_total', () => new Counter({
      name: 'd7y_scheduler_blocked_parents_total', help: 'Parent hosts blocked for a task for serving a corrupt piece', registers: [registry],
    }));
    this.hosts = get('d7y_scheduler_hosts', () => new Gauge({ name: 'd7y_scheduler_hosts', help: 'Hosts known', registers: [registry] }));
    this.tasks = get('d7y_scheduler_tasks', () => new Gauge({ name: 'd7y_scheduler_tasks', help: 'Tasks known', registers: [registry] }));
  }
}
