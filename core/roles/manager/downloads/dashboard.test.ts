import test from 'ava';
import type { DownloadTable } from '../database/schema.js';
import { dashboardOf } from './dashboard.js';

const row = (over: Partial<DownloadTable>): DownloadTable => ({
  id: 'x', tenant_id: 't', scheduler_id: 's', task_id: 'task-a', url: 'http://o/a', host_id: 'h1', hostname: 'one', ip: '127.0.0.1',
  seed: 0, succeeded: 1, duration_ms: 100, content_length: 100, peer_bytes: 100, source_bytes: 0, back_to_source: 0,
  piece_failures: 0, reschedules: 0, experiment_id: '', arm: '', arm_index: 0, evaluator: '', bucket: '', created_at: 0, ...over,
});

test('the dashboard splits bytes by P2P and origin over time and gives the egress ratio, success rate, p50/p99 and reasons', (t) => {
  const rows = [
    row({ seed: 1, host_id: 'seed', source_bytes: 100, peer_bytes: 0, back_to_source: 1, created_at: 10, duration_ms: 900 }),
    row({ created_at: 10, duration_ms: 100 }),
    row({ created_at: 60, duration_ms: 200, host_id: 'h2', task_id: 'task-b', url: 'http://o/b', peer_bytes: 300 }),
    row({ created_at: 70, succeeded: 0, peer_bytes: 0, source_bytes: 50, back_to_source: 1 }),
  ];
  const d = dashboardOf(rows, 0, 100, 2);
  t.deepEqual(d.series.map((p) => [p.t, p.p2p_bytes, p.source_bytes, p.downloads]), [[0, 100, 100, 2], [50, 300, 50, 2]]);
  t.is(d.p2p_bytes, 400);
  t.is(d.source_bytes, 150);
  t.is(d.origin_egress_ratio, 150 / 550);
  t.is(d.success_rate, 3 / 4);
  t.deepEqual(d.duration_ms, { p50: 200, p99: 900 });
  t.deepEqual(d.back_to_source.map((r) => [r.reason, r.downloads, r.bytes]).sort(),
    [['peer went back to the origin', 1, 50], ['seed peer fetched from the origin', 1, 100]]);
  t.deepEqual(d.busiest_tasks.map((x) => [x.task_id, x.downloads, x.bytes]), [['task-b', 1, 300], ['task-a', 3, 250]], 'ranked by bytes moved');
  t.is(d.busiest_hosts.length, 3);
});

test('an empty window has no ratio, rate or percentiles rather than zeros', (t) => {
  const d = dashboardOf([], 0, 100, 4);
  t.is(d.series.length, 4);
  t.is(d.success_rate, null);
  t.is(d.origin_egress_ratio, null);
  t.deepEqual(d.duration_ms, { p50: null, p99: null });
});

test('back-to-source is split by the reason the scheduler or the peer gave, largest origin traffic first', (t) => {
  const rows = [
    row({ seed: 1, source_bytes: 400, peer_bytes: 0, back_to_source: 1, back_to_source_reason: 'seed_peer' }),
    row({ source_bytes: 30, peer_bytes: 70, back_to_source: 1, back_to_source_reason: 'no_trusted_digest' }),
    row({ source_bytes: 20, peer_bytes: 80, back_to_source: 1, back_to_source_reason: 'no_trusted_digest' }),
    row({ source_bytes: 100, peer_bytes: 0, back_to_source: 1, back_to_source_reason: 'rounds_exhausted' }),
    row({ source_bytes: 5, peer_bytes: 0, back_to_source: 1, back_to_source_reason: 'a_new_reason' }),
    row({ peer_bytes: 100 }),
  ];
  t.deepEqual(dashboardOf(rows, 0, 100, 1).back_to_source.map((r) => [r.code, r.reason, r.downloads, r.bytes]), [
    ['seed_peer', 'seed peer fetched from the origin', 1, 400],
    ['rounds_exhausted', 'no parent within the scheduling rounds', 1, 100],
    ['no_trusted_digest', 'no trusted piece digest in time', 2, 50],
    ['a_new_reason', 'a new reason', 1, 5],
  ]);
});
