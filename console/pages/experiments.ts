import { useMemo, useState } from 'preact/hooks';
import { api } from '../api.js';
import { Chart, type Series } from '../chart.js';
import { bytes, ErrorBox, html, Page, percent, Table, useLoad, when } from '../ui.js';

interface Summary { n: number; mean: number; p50: number; p95: number; ci95?: [number, number] }
interface Arm { arm: string; evaluator: string; downloads: number; failed: number; buckets: number; durationMs: Summary; bytesPerSecond: Summary; meanPeerShare: number; backToSourceRate: number }
interface Welch { t: number; df: number; pValue: number }
interface Comparison { control: string; arm: string; durationMs?: Welch; bytesPerSecond?: Welch; bytesPerSecondByBucket?: Welch }
interface Report { experimentId: string; arms: Arm[]; comparisons: Comparison[]; verdict: string }
interface Download { arm: string; succeeded: boolean; ended_at: string; duration_ms: number; bytes_per_second: number }
interface Experiment { id: string; downloads: number; first_at: string; last_at: string }

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c'];
const ci = (s: Summary, f: (x: number) => string) => (s.ci95 ? `${f(s.ci95[0])} – ${f(s.ci95[1])}` : '–');
const ms = (x: number) => `${x.toFixed(0)} ms`;
const rate = (x: number) => `${bytes(x)}/s`;
const p = (w?: Welch) => (w ? w.pValue.toPrecision(3) : '–');

/** One experiment: per-arm charts of each download's time, the per-arm summary with 95 % CIs, the tests' p-values and the verdict. */
function ExperimentReport({ id }: { id: string }) {
  const r = useLoad(() => api<{ report: Report; downloads: Download[] }>('GET', `/api/v1/experiments/${encodeURIComponent(id)}`), [id]);
  const chart = useMemo(() => {
    if (!r.data) return undefined;
    const ok = r.data.downloads.filter((d) => d.succeeded);
    const arms = r.data.report.arms.map((a) => a.arm);
    const x = ok.map((d) => Date.parse(d.ended_at) / 1000);
    const series: Series[] = arms.map((arm, i) => ({
      label: arm, color: COLORS[i % COLORS.length]!, points: true, values: ok.map((d) => (d.arm === arm ? d.duration_ms : null)),
    }));
    return { x, series };
  }, [r.data]);
  if (r.error) return html`<${ErrorBox} error=${r.error} />`;
  if (!r.data || !chart) return html`<p>Loading…</p>`;
  const { report } = r.data;
  return html`<div data-testid="experiment-report">
    <h2>${report.experimentId}</h2>
    <${Chart} testid="experiment-chart" title="Download time per arm" yLabel="ms" x=${chart.x} series=${chart.series} />
    <${Table} testid="arms" rows=${report.arms} empty="No arm." columns=${[
      { label: 'Arm', cell: (a: Arm) => html`<b>${a.arm}</b> <small>${a.evaluator}</small>` },
      { label: 'Downloads (failed)', cell: (a: Arm) => `${a.downloads} (${a.failed})` },
      { label: 'Buckets', cell: (a: Arm) => a.buckets },
      { label: 'Time p50 / p95', cell: (a: Arm) => `${ms(a.durationMs.p50)} / ${ms(a.durationMs.p95)}` },
      { label: 'Time mean, 95 % CI', cell: (a: Arm) => `${ms(a.durationMs.mean)} [${ci(a.durationMs, ms)}]` },
      { label: 'Throughput mean, 95 % CI', cell: (a: Arm) => `${rate(a.bytesPerSecond.mean)} [${ci(a.bytesPerSecond, rate)}]` },
      { label: 'From peers', cell: (a: Arm) => percent(a.meanPeerShare) },
      { label: 'Back to source', cell: (a: Arm) => percent(a.backToSourceRate) },
    ]} />
    <h3>Against the control (Welch's t-test)</h3>
    <${Table} rows=${report.comparisons} empty="One arm only: nothing to compare." columns=${[
      { label: 'Arm vs control', cell: (c: Comparison) => `${c.arm} vs ${c.control}` },
      { label: 'p (time)', cell: (c: Comparison) => p(c.durationMs) },
      { label: 'p (throughput)', cell: (c: Comparison) => p(c.bytesPerSecond) },
      { label: 'p (throughput by bucket)', cell: (c: Comparison) => p(c.bytesPerSecondByBucket) },
    ]} />
    <p class="verdict" data-testid="verdict">${report.verdict}</p>
  </div>`;
}

/** A/B experiments seen in the schedulers' download reports. */
export function Experiments({ id }: { id?: string }) {
  const list = useLoad(() => api<Experiment[]>('GET', '/api/v1/experiments'));
  const [open, setOpen] = useState(id);
  return html`<${Page} title="A/B experiments">
    <${ErrorBox} error=${list.error} />
    <${Table} testid="experiments" rows=${list.data} empty="No experiment yet: set one in a cluster's scheduler config (experiment: id, variants)." columns=${[
      { label: 'Experiment', cell: (e: Experiment) => html`<a href=${`#/experiments/${encodeURIComponent(e.id)}`} onClick=${() => setOpen(e.id)}>${e.id}</a>` },
      { label: 'Downloads', cell: (e: Experiment) => e.downloads },
      { label: 'First', cell: (e: Experiment) => when(e.first_at) },
      { label: 'Last', cell: (e: Experiment) => when(e.last_at) },
    ]} />
    ${open && html`<${ExperimentReport} key=${open} id=${open} />`}
  </${Page}>`;
}
