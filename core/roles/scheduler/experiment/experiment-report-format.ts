import type { ExperimentReport, MetricSummary } from './experiment-report.js';

function ms(x: number): string {
  return x >= 10_000 ? `${(x / 1000).toFixed(1)}s` : `${x.toFixed(0)}ms`;
}

function rate(x: number): string {
  return x >= 1e6 ? `${(x / 1e6).toFixed(1)}MB/s` : `${(x / 1e3).toFixed(1)}kB/s`;
}

function metric(m: MetricSummary, f: (x: number) => string): string {
  const ci = m.ci95 ? ` [${f(m.ci95[0])}, ${f(m.ci95[1])}]` : '';
  return `${f(m.mean)}${ci} p50 ${f(m.p50)} p95 ${f(m.p95)}`;
}

/** The human form of an experiment report: one block per arm, the tests, the verdict line. */
export function formatExperimentReport(r: ExperimentReport): string {
  const lines = [`experiment ${r.experimentId}`];
  for (const a of r.arms) {
    lines.push(`  arm ${a.arm} (evaluator ${a.evaluator}): n=${a.bytesPerSecond.n} ok, ${a.failed} failed, ${a.buckets} bucket(s)`);
    lines.push(`    duration    mean ${metric(a.durationMs, ms)}`);
    lines.push(`    throughput  mean ${metric(a.bytesPerSecond, rate)}`);
    lines.push(`    from peers ${(a.meanPeerShare * 100).toFixed(1)}%, piece failures ${a.meanPieceFailures.toFixed(2)}, `
      + `reschedules ${a.meanReschedules.toFixed(2)}, back-to-source ${(a.backToSourceRate * 100).toFixed(1)}% (means per download)`);
  }
  for (const c of r.comparisons) {
    const p = (w?: { pValue: number }): string => (w ? w.pValue.toPrecision(3) : 'n/a');
    lines.push(`  Welch t-test ${c.arm} vs ${c.control}: duration p=${p(c.durationMs)}, throughput p=${p(c.bytesPerSecond)}, `
      + `throughput over bucket means p=${p(c.bytesPerSecondByBucket)}`);
  }
  lines.push(`verdict: ${r.verdict}`);
  return `${lines.join('\n')}\n`;
}
