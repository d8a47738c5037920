import jstat from 'jstat';
import type { ExperimentOutcome } from './experiment-outcome.js';

const { jStat } = jstat;

/** Successful downloads each arm needs before the report draws a conclusion. */
export const MIN_SAMPLES_PER_ARM = 10;
/** Buckets (tasks or hosts) each arm needs: downloads of one bucket are not independent. */
export const MIN_BUCKETS_PER_ARM = 5;
/** Significance level of the verdict. */
export const ALPHA = 0.05;

/** n, mean, median, 95th percentile and the 95 % confidence interval of the mean. */
export interface MetricSummary {
  n: number;
  mean: number;
  p50: number;
  p95: number;
  /** Student-t interval of the mean; undefined below two samples. */
  ci95?: [number, number];
}

export interface ArmReport {
  arm: string;
  evaluator: string;
  downloads: number;
  failed: number;
  /** Distinct buckets (tasks or hosts) among the successful downloads. */
  buckets: number;
  durationMs: MetricSummary;
  bytesPerSecond: MetricSummary;
  meanPeerShare: number;
  meanPieceFailures: number;
  meanReschedules: number;
  backToSourceRate: number;
}

/** Welch's two-sided t-test of one metric between the control arm and another. */
export interface WelchResult {
  t: number;
  df: number;
  pValue: number;
}

export interface ArmComparison {
  control: string;
  arm: string;
  durationMs?: WelchResult;
  bytesPerSecond?: WelchResult;
  /**
   * Throughput compared on per-bucket means: downloads of one task (or host) share its
   * conditions, so this is the test the verdict uses.
   */
  bytesPerSecondByBucket?: WelchResult;
}

export interface ExperimentReport {
  experimentId: string;
  arms: ArmReport[];
  /** Each arm against the first (the control). */
  comparisons: ArmComparison[];
  verdict: string;
}

/** Summary of a sample; zeros for an empty one. */
export function summarize(xs: readonly number[]): MetricSummary {
  const n = xs.length;
  if (n === 0) return { n, mean: 0, p50: 0, p95: 0 };
  const sorted = [...xs].sort((a, b) => a - b);
  const mean = jStat.mean(sorted);
  const summary: MetricSummary = { n, mean, p50: jStat.percentile(sorted, 0.5), p95: jStat.percentile(sorted, 0.95) };
  if (n >= 2) {
    const half = jStat.studentt.inv(0.975, n - 1) * jStat.stdev(sorted, true) / Math.sqrt(n);
    summary.ci95 = [mean - half, mean + half];
  }
  return summary;
}

/** Welch's unequal-variance t-test; undefined unless both samples have at least two values. */
export function welchTTest(a: readonly number[], b: readonly number[]): WelchResult | undefined {
  if (a.length < 2 || b.length < 2) return undefined;
  const va = jStat.variance([...a], true) / a.length;
  const vb = jStat.variance([...b], true) / b.length;
  const diff = jStat.mean([...a]) - jStat.mean([...b]);
  if (va + vb === 0) return { t: diff === 0 ? 0 : Math.sign(diff) * Infinity, df: a.length + b.length - 2, pValue: diff === 0 ? 1 : 0 };
  const t = diff / Math.sqrt(va + vb);
  const df = (va + vb) ** 2 / (va ** 2 / (a.length - 1) + vb ** 2 / (b.length - 1));
  const pValue = Math.min(1, 2 * (1 - jStat.studentt.cdf(Math.abs(t), df)));
  return { t, df, pValue };
}

function meanOf(xs: number[]): number {
  return xs.length === 0 ? 0 : jStat.mean(xs);
}

function armReport(arm: string, outcomes: ExperimentOutcome[]): ArmReport {
  const ok = outcomes.filter((o) => o.succeeded);
  return {
    arm,
    evaluator: outcomes[0]?.evaluator ?? '',
    downloads: outcomes.length,
    failed: outcomes.length - ok.length,
    buckets: new Set(ok.map((o) => o.bucket ?? o.taskId)).size,
    durationMs: summarize(ok.map((o) => o.durationMs)),
    bytesPerSecond: summarize(ok.map((o) => o.bytesPerSecond)),
    meanPeerShare: meanOf(ok.map((o) => o.peerShare)),
    meanPieceFailures: meanOf(outcomes.map((o) => o.pieceFailures)),
    meanReschedules: meanOf(outcomes.map((o) => o.reschedules)),
    backToSourceRate: meanOf(outcomes.map((o) => (o.backToSource ? 1 : 0))),
  };
}

function verdictOf(arms: ArmReport[], comparisons: ArmComparison[]): string {
  if (arms.length < 2) return `not enough data: only ${arms.length} arm(s) have outcomes; an experiment compares two or more`;
  const short = arms.filter((a) => a.bytesPerSecond.n < MIN_SAMPLES_PER_ARM);
  if (short.length > 0) {
    return `not enough data: ${short.map((a) => `${a.arm} has ${a.bytesPerSecond.n}`).join(', ')} successful download(s); `
      + `need at least ${MIN_SAMPLES_PER_ARM} per arm`;
  }
  const few = arms.filter((a) => a.buckets < MIN_BUCKETS_PER_ARM);
  if (few.length > 0) {
    return `not enough data: ${few.map((a) => `${a.arm} spans ${a.buckets}`).join(', ')} bucket(s) (tasks or hosts); `
      + `need at least ${MIN_BUCKETS_PER_ARM} per arm, as downloads of one bucket are not independent`;
  }
  const control = arms[0]!;
  const parts: string[] = [];
  for (const c of comparisons) {
    const other = arms.find((a) => a.arm === c.arm)!;
    const p = c.bytesPerSecondByBucket?.pValue ?? 1;
    const ratio = control.bytesPerSecond.mean > 0 ? other.bytesPerSecond.mean / control.bytesPerSecond.mean : 1;
    const pct = `${ratio >= 1 ? '+' : ''}${((ratio - 1) * 100).toFixed(1)}%`;
    parts.push(p < ALPHA
      ? `${other.arm} is ${ratio >= 1 ? 'faster' : 'slower'} than ${control.arm}: throughput ${pct} (p=${p.toPrecision(2)})`
      : `no significant difference between ${other.arm} and ${control.arm} (throughput ${pct}, p=${p.toPrecision(2)} over bucket means); `
        + 'collect more tasks to detect smaller effects');
  }
  return parts.join('; ');
}

/**
 * The report of one experiment: per arm (in the experiment's variant order, the first being the control) the number of downloads,
 * failures, and summaries of duration and throughput over successful downloads; Welch's t-test of
 * each arm against the first, per download and on per-bucket throughput means; and a one-line
 * verdict (judged on bucket means, since downloads of one task or host are correlated) that says
 * when the data is not enough.
 */
export function experimentReport(experimentId: string, outcomes: readonly ExperimentOutcome[]): ExperimentReport {
  const byArm = new Map<string, ExperimentOutcome[]>();
  for (const o of outcomes) {
    if (o.experimentId !== experimentId) continue;
    const list = byArm.get(o.arm) ?? [];
    list.push(o);
    byArm.set(o.arm, list);
  }
  const order = (list: ExperimentOutcome[]): number => list[0]?.armIndex ?? Number.MAX_SAFE_INTEGER;
  const arms = [...byArm].sort((a, b) => order(a[1]) - order(b[1])).map(([arm, list]) => armReport(arm, list));
  const ok = (arm: string, pick: (o: ExperimentOutcome) => number): number[] =>
    (byArm.get(arm) ?? []).filter((o) => o.succeeded).map(pick);
  const comparisons = arms.slice(1).map((a): ArmComparison => ({
    control: arms[0]!.arm,
    arm: a.arm,
    durationMs: welchTTest(ok(a.arm, (o) => o.durationMs), ok(arms[0]!.arm, (o) => o.durationMs)),
    bytesPerSecond: welchTTest(ok(a.arm, (o) => o.bytesPerSecond), ok(arms[0]!.arm, (o) => o.bytesPerSecond)),
  }));
  const bucketMeans = (arm: string): number[] => {
    const sums = new Map<string, { sum: number; n: number }>();
    for (const o of byArm.get(arm) ?? []) {
      if (!o.succeeded) continue;
      const key = o.bucket ?? o.taskId;
      const s = sums.get(key) ?? { sum: 0, n: 0 };
      s.sum += o.bytesPerSecond;
      s.n += 1;
      sums.set(key, s);
    }
    return [...sums.values()].map((s) => s.sum / s.n);
  };
  for (const c of comparisons) c.bytesPerSecondByBucket = welchTTest(bucketMeans(c.arm), bucketMeans(c.control));
  return { experimentId, arms, comparisons, verdict: verdictOf(arms, comparisons) };
}
