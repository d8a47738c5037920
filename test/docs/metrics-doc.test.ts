import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createMetricsRegistry } from '../../core/metrics/metrics.js';
import { ManagerMetrics } from '../../core/roles/manager/manager-metrics.js';
import { PeerMetrics } from '../../core/roles/peer/peer-metrics.js';
import { SchedulerMetrics } from '../../core/roles/scheduler/scheduler-metrics.js';
import { repoRoot } from '../support/env.js';

interface Row {
  type: string;
  labels: string[];
}

/** The rows `| \`d7y_…\` | type | labels | meaning |` of docs/metrics.md, by name. */
async function documented(): Promise<Map<string, Row>> {
  const text = await readFile(join(repoRoot, 'docs/metrics.md'), 'utf8');
  const rows = new Map<string, Row>();
  for (const m of text.matchAll(/^\| `(d7y_[a-z0-9_]+)` \| (\w+) \|([^|]*)\|/gm)) {
    rows.set(m[1]!, { type: m[2]!, labels: [...m[3]!.matchAll(/`(\w+)`/g)].map((l) => l[1]!).sort() });
  }
  return rows;
}

/** What the three roles register: each metric's type and label names. */
async function registered(): Promise<Map<string, Row>> {
  const out = new Map<string, Row>();
  const roles = [
    (r: ReturnType<typeof createMetricsRegistry>) => new ManagerMetrics(r),
    (r: ReturnType<typeof createMetricsRegistry>) => new SchedulerMetrics(r),
    (r: ReturnType<typeof createMetricsRegistry>) => new PeerMetrics(r),
  ];
  for (const make of roles) {
    const registry = createMetricsRegistry();
    make(registry);
    for (const { name, type } of await registry.getMetricsAsJSON()) {
      const labels = (registry.getSingleMetric(name) as unknown as { labelNames?: string[] }).labelNames ?? [];
      out.set(name, { type: String(type), labels: [...labels].sort() });
    }
  }
  return out;
}

test('docs/metrics.md lists every metric the roles register, with its type and labels, and nothing else', async (t) => {
  const [docs, live] = await Promise.all([documented(), registered()]);
  t.true(live.size >= 30, `the roles register ${live.size} metrics`);
  const undocumented = [...live.keys()].filter((n) => !docs.has(n));
  const stale = [...docs.keys()].filter((n) => !live.has(n));
  t.deepEqual(undocumented, [], 'registered but missing from the table in docs/metrics.md');
  t.deepEqual(stale, [], 'in docs/metrics.md but registered by no role');
  for (const [name, row] of live) {
    const doc = docs.get(name);
    if (!doc) continue;
    t.is(doc.type, row.type, `${name}: type in docs/metrics.md`);
    t.deepEqual(doc.labels, row.labels, `${name}: labels in docs/metrics.md`);
  }
});

test('every metric is named d7y_<role>_… after the role that registers it', async (t) => {
  for (const name of (await registered()).keys()) t.regex(name, /^d7y_(manager|scheduler|peer)_[a-z0-9_]+$/);
});
