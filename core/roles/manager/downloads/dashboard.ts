import type { DownloadTable } from '../database/schema.js';

/** What each back-to-source reason (the scheduler's, or the peer's own) means, as the dashboard says it. */
const REASONS: Record<string, string> = {
  seed_peer: 'seed peer fetched from the origin',
  requested: 'the download asked for the origin',
  no_parent: 'no parent could serve it',
  rounds_exhausted: 'no parent within the scheduling rounds',
  reschedules_exhausted: 'no parent after the peer\'s reschedules',
  no_trusted_digest: 'no trusted piece digest in time',
  scheduler_lost: 'the scheduler was lost',
  unknown_length: 'the origin gave no length',
  no_scheduler: 'no scheduler to ask',
  small_object: 'small object, straight to the origin',
  peer_decided: 'peer went back to the origin',
};

/** The label of a download's back-to-source reason; rows from before reasons were reported fall back on the kind of peer. */
function reasonOf(r: DownloadTable): { code: string; reason: string } {
  const code = r.back_to_source_reason || (r.seed ? 'seed_peer' : 'peer_decided');
  return { code, reason: REASONS[code] ?? code.replace(/_/g, ' ') };
}

/** Downloads the dashboard reads at most per request (the newest). */
export const DASHBOARD_ROW_LIMIT = 50_000;

export interface DashboardPoint {
  /** Start of the bucket, ms since the epoch. */
  t: number;
  p2p_bytes: number;
  source_bytes: number;
  downloads: number;
}

export interface Dashboard {
  from: string;
  to: string;
  downloads: number;
  succeeded: number;
  failed: number;
  /** succeeded / downloads; null when there were none. */
  success_rate: number | null;
  p2p_bytes: number;
  source_bytes: number;
  /** Bytes read from origins per byte delivered to peers (source / (p2p + source)); null when nothing moved. */
  origin_egress_ratio: number | null;
  /** Successful downloads' duration, milliseconds. */
  duration_ms: { p50: number | null; p99: number | null };
  series: DashboardPoint[];
  /** Why downloads went to the origin, by reason (`code` as in d7y_scheduler_back_to_source_total / d7y_peer_back_to_source_total; seed peers fetch on purpose). */
  back_to_source: { code: string; reason: string; downloads: number; bytes: number }[];
  busiest_tasks: { task_id: string; url: string; downloads: number; bytes: number }[];
  busiest_hosts: { host_id: string; hostname: string; ip: string; downloads: number; bytes: number }[];
  /** True when the window held more downloads than one request reads. */
  truncated: boolean;
}

function percentile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function top<T extends { downloads: number; bytes: number }>(m: Map<string, T>, n: number): T[] {
  return [...m.values()].sort((a, b) => b.bytes - a.bytes || b.downloads - a.downloads).slice(0, n);
}

/** The dashboard's figures over `rows`, the downloads ended in [from, to). */
export function dashboardOf(rows: readonly DownloadTable[], from: number, to: number, buckets: number, truncated = false): Dashboard {
  const width = Math.max(1, Math.ceil((to - from) / buckets));
  const series: DashboardPoint[] = Array.from({ length: buckets }, (_, i) => ({ t: from + i * width, p2p_bytes: 0, source_bytes: 0, downloads: 0 }));
  const reasons = new Map<string, { code: string; reason: string; downloads: number; bytes: number }>();
  const tasks = new Map<string, { task_id: string; url: string; downloads: number; bytes: number }>();
  const hosts = new Map<string, { host_id: string; hostname: string; ip: string; downloads: number; bytes: number }>();
  const durations: number[] = [];
  let succeeded = 0;
  let p2p = 0;
  let source = 0;
  for (const r of rows) {
    const point = series[Math.min(buckets - 1, Math.max(0, Math.floor((r.created_at - from) / width)))]!;
    point.p2p_bytes += r.peer_bytes;
    point.source_bytes += r.source_bytes;
    point.downloads++;
    p2p += r.peer_bytes;
    source += r.source_bytes;
    if (r.succeeded) {
      succeeded++;
      durations.push(r.duration_ms);
    }
    if (r.back_to_source || r.source_bytes > 0) {
      const why = reasonOf(r);
      const e = reasons.get(why.code) ?? { ...why, downloads: 0, bytes: 0 };
      e.downloads++;
      e.bytes += r.source_bytes;
      reasons.set(why.code, e);
    }
    const bytes = r.peer_bytes + r.source_bytes;
    const t = tasks.get(r.task_id) ?? { task_id: r.task_id, url: r.url, downloads: 0, bytes: 0 };
    t.downloads++;
    t.bytes += bytes;
    tasks.set(r.task_id, t);
    const h = hosts.get(r.host_id) ?? { host_id: r.host_id, hostname: r.hostname, ip: r.ip, downloads: 0, bytes: 0 };
    h.downloads++;
    h.bytes += bytes;
    hosts.set(r.host_id, h);
  }
  durations.sort((a, b) => a - b);
  return {
    from: new Date(from).toISOString(), to: new Date(to).toISOString(),
    downloads: rows.length, succeeded, failed: rows.length - succeeded,
    success_rate: rows.length ? succeeded / rows.length : null,
    p2p_bytes: p2p, source_bytes: source,
    origin_egress_ratio: p2p + source > 0 ? source / (p2p + source) : null,
    duration_ms: { p50: percentile(durations, 0.5), p99: percentile(durations, 0.99) },
    series, back_to_source: [...reasons.values()].sort((a, b) => b.bytes - a.bytes || b.downloads - a.downloads),
    busiest_tasks: top(tasks, 10), busiest_hosts: top(hosts, 10), truncated,
  };
}
