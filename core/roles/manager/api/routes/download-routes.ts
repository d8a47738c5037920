import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { D7yError } from '../../../../errors/d7y-error.js';
import { experimentReport } from '../../../scheduler/experiment/experiment-report.js';
import type { ExperimentOutcome } from '../../../scheduler/experiment/experiment-outcome.js';
import type { DownloadTable } from '../../database/schema.js';
import { DASHBOARD_ROW_LIMIT, dashboardOf } from '../../downloads/dashboard.js';
import { DashboardQuerySchema, DownloadBatchSchema, type DownloadReport } from '../../downloads/download-report-schema.js';
import type { ManagerServices } from '../../manager-services.js';
import { route, type ManagerRoute } from '../manager-route.js';

/** Outcomes one experiment report reads at most (the newest). */
const EXPERIMENT_ROW_LIMIT = 20_000;

function rowOf(d: DownloadReport, tenantId: string, schedulerId: string): DownloadTable {
  const e = d.experiment;
  return {
    id: randomUUID(), tenant_id: tenantId, scheduler_id: schedulerId, task_id: d.task_id, url: d.url.split('?')[0]!.slice(0, 4096),
    host_id: d.host_id, hostname: d.hostname, ip: d.ip, seed: d.seed ? 1 : 0, succeeded: d.succeeded ? 1 : 0,
    duration_ms: d.duration_ms, content_length: d.content_length, peer_bytes: d.peer_bytes, source_bytes: d.source_bytes,
    back_to_source: d.back_to_source ? 1 : 0, back_to_source_reason: d.back_to_source_reason ?? '', piece_failures: d.piece_failures, reschedules: d.reschedules,
    experiment_id: e?.id ?? '', arm: e?.arm ?? '', arm_index: e?.arm_index ?? 0, evaluator: e?.evaluator ?? '', bucket: e?.bucket ?? '',
    created_at: Date.parse(d.ended_at),
  };
}

/** A stored download as the experiment report reads it. */
export function outcomeOf(r: DownloadTable): ExperimentOutcome {
  const received = r.peer_bytes + r.source_bytes;
  return {
    experimentId: r.experiment_id, arm: r.arm, armIndex: r.arm_index, evaluator: r.evaluator, bucket: r.bucket, taskId: r.task_id,
    hostId: r.host_id, peerId: '', succeeded: r.succeeded === 1, recordedAt: new Date(r.created_at).toISOString(),
    durationMs: r.duration_ms, contentLength: r.content_length,
    bytesPerSecond: r.succeeded && r.duration_ms > 0 ? (r.content_length * 1000) / r.duration_ms : 0,
    peerBytes: r.peer_bytes, sourceBytes: r.source_bytes, peerShare: received > 0 ? r.peer_bytes / received : 0,
    pieceFailures: r.piece_failures, reschedules: r.reschedules, backToSource: r.back_to_source === 1, schedulerFailovers: 0, measuredBy: 'peer',
  };
}

/**
 * Ended downloads reported by schedulers, and what the console reads from them: the dashboard,
 * the peers seen, and the A/B experiments with their reports.
 */
export function downloadRoutes(s: ManagerServices): ManagerRoute[] {
  return [
    route({
      method: 'post', path: '/oapi/v1/schedulers/:id/downloads', audit: 'failures', summary: 'A scheduler reports downloads that ended (at most 1000 a call)',
      auth: 'pat', scope: 'cluster', resource: 'scheduler', body: DownloadBatchSchema, status: 202,
      async handle({ principal, params, body }) {
        const rows = body.downloads.map((d) => rowOf(d, principal.tenantId, params.id));
        for (let i = 0; i < rows.length; i += 100) await s.db.insertInto('downloads').values(rows.slice(i, i + 100)).execute();
        return { accepted: rows.length };
      },
    }),
    route({
      method: 'get', path: '/api/v1/dashboard', summary: 'Downloads of the tenant over a window: bytes by P2P and from origins over time, success rate, p50/p99 time, back-to-source, busiest tasks and hosts',
      auth: 'session', query: DashboardQuerySchema,
      async handle({ principal, query }) {
        const to = Date.now();
        const from = to - query.window;
        const rows = await s.db.selectFrom('downloads').selectAll().where('tenant_id', '=', principal.tenantId)
          .where('created_at', '>=', from).orderBy('created_at', 'desc').limit(DASHBOARD_ROW_LIMIT + 1).execute();
        const truncated = rows.length > DASHBOARD_ROW_LIMIT;
        return dashboardOf(rows.slice(0, DASHBOARD_ROW_LIMIT), from, to, query.buckets, truncated);
      },
    }),
    route({
      method: 'get', path: '/api/v1/downloads/peers', summary: 'Hosts that downloaded in the tenant (from schedulers\' reports), last seen first',
      auth: 'session', query: z.strictObject({ limit: z.coerce.number().int().min(1).max(1000).default(200) }),
      async handle({ principal, query }) {
        const rows = await s.db.selectFrom('downloads')
          .select((eb) => ['host_id', eb.fn.max('hostname').as('hostname'), eb.fn.max('ip').as('ip'), eb.fn.max('seed').as('seed'),
            eb.fn.countAll<number>().as('downloads'), eb.fn.sum<number>('peer_bytes').as('peer_bytes'), eb.fn.sum<number>('source_bytes').as('source_bytes'),
            eb.fn.max('created_at').as('last_seen'), eb.fn.max('scheduler_id').as('scheduler_id')])
          .where('tenant_id', '=', principal.tenantId).groupBy('host_id').orderBy('last_seen', 'desc').limit(query.limit).execute();
        return rows.map((r) => ({
          host_id: r.host_id, hostname: r.hostname, ip: r.ip, type: Number(r.seed) ? 'seed' : 'normal', downloads: Number(r.downloads),
          peer_bytes: Number(r.peer_bytes), source_bytes: Number(r.source_bytes), scheduler_id: r.scheduler_id,
          last_seen_at: new Date(Number(r.last_seen)).toISOString(),
        }));
      },
    }),
    route({
      method: 'get', path: '/api/v1/experiments', summary: 'A/B experiments seen in the tenant\'s downloads, with their download counts',
      auth: 'session',
      async handle({ principal }) {
        const rows = await s.db.selectFrom('downloads')
          .select((eb) => ['experiment_id', eb.fn.countAll<number>().as('downloads'), eb.fn.min('created_at').as('first'), eb.fn.max('created_at').as('last')])
          .where('tenant_id', '=', principal.tenantId).where('experiment_id', '!=', '').groupBy('experiment_id').orderBy('last', 'desc').limit(1000).execute();
        return rows.map((r) => ({
          id: r.experiment_id, downloads: Number(r.downloads),
          first_at: new Date(Number(r.first)).toISOString(), last_at: new Date(Number(r.last)).toISOString(),
        }));
      },
    }),
    route({
      method: 'get', path: '/api/v1/experiments/:experiment', summary: 'An experiment\'s report (per arm: mean, p50, p95, 95% CI; Welch\'s t-test p-values; verdict) and its downloads',
      auth: 'session',
      async handle({ principal, params }) {
        const rows = await s.db.selectFrom('downloads').selectAll().where('tenant_id', '=', principal.tenantId)
          .where('experiment_id', '=', params.experiment!).orderBy('created_at', 'desc').limit(EXPERIMENT_ROW_LIMIT).execute();
        if (rows.length === 0) {
          throw new D7yError('D7Y_NOT_FOUND', `no downloads of experiment "${params.experiment}"`, {
            fix: 'check the experiment id (GET /api/v1/experiments lists them); downloads appear once schedulers report them',
          });
        }
        const outcomes = rows.reverse().map(outcomeOf);
        return {
          report: experimentReport(params.experiment!, outcomes),
          downloads: outcomes.map((o) => ({
            arm: o.arm, succeeded: o.succeeded, ended_at: o.recordedAt, duration_ms: o.durationMs, bytes_per_second: o.bytesPerSecond, peer_share: o.peerShare,
          })),
        };
      },
    }),
  ];
}
