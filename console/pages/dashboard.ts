import { useMemo, useState } from 'preact/hooks';
import { api } from '../api.js';
import { Chart } from '../chart.js';
import { bytes, ErrorBox, html, Page, percent, Table, useLoad } from '../ui.js';

interface Point { t: number; p2p_bytes: number; source_bytes: number; downloads: number }
interface Dashboard {
  downloads: number; succeeded: number; failed: number; success_rate: number | null; p2p_bytes: number; source_bytes: number;
  origin_egress_ratio: number | null; duration_ms: { p50: number | null; p99: number | null }; series: Point[]; truncated: boolean;
  back_to_source: { code: string; reason: string; downloads: number; bytes: number }[];
  busiest_tasks: { task_id: string; url: string; downloads: number; bytes: number }[];
  busiest_hosts: { host_id: string; hostname: string; ip: string; downloads: number; bytes: number }[];
}

const WINDOWS: [string, number][] = [['1 hour', 3600_000], ['6 hours', 6 * 3600_000], ['1 day', 24 * 3600_000], ['7 days', 7 * 24 * 3600_000]];

function Figure({ label, value, testid }: { label: string; value: string; testid?: string }) {
  return html`<div class="figure" data-testid=${testid}><div class="value">${value}</div><div class="label">${label}</div></div>`;
}

/** The dashboard: bytes from peers against bytes from origins over time, and the figures around them. */
export function DashboardPage() {
  const [win, setWin] = useState(3600_000);
  const d = useLoad(() => api<Dashboard>('GET', '/api/v1/dashboard', undefined, { window: win, buckets: 30 }), [win]);
  const chart = useMemo(() => d.data && {
    x: d.data.series.map((p) => p.t / 1000),
    series: [
      { label: 'P2P', color: '#16a34a', values: d.data.series.map((p) => p.p2p_bytes / 1048576) },
      { label: 'origins', color: '#dc2626', values: d.data.series.map((p) => p.source_bytes / 1048576) },
    ],
  }, [d.data]);
  const v = d.data;
  return html`<${Page} title="Dashboard">
    <div class="inline">
      <label>Window <select value=${win} onChange=${(e: Event) => setWin(Number((e.target as HTMLSelectElement).value))}>
        ${WINDOWS.map(([l, ms]) => html`<option value=${ms}>${l}</option>`)}
      </select></label>
      <button class="secondary" onClick=${d.reload}>Refresh</button>
    </div>
    <${ErrorBox} error=${d.error} />
    ${v && chart && html`
      <div class="figures">
        <${Figure} label="downloads" value=${String(v.downloads)} testid="fig-downloads" />
        <${Figure} label="success rate" value=${percent(v.success_rate)} />
        <${Figure} label="bytes from peers" value=${bytes(v.p2p_bytes)} />
        <${Figure} label="bytes from origins" value=${bytes(v.source_bytes)} />
        <${Figure} label="origin egress ratio" value=${percent(v.origin_egress_ratio)} />
        <${Figure} label="time p50 / p99" value=${v.duration_ms.p50 === null ? '–' : `${v.duration_ms.p50} / ${v.duration_ms.p99} ms`} />
      </div>
      <${Chart} testid="traffic-chart" title="Bytes served by P2P and from origins" yLabel="MiB" x=${chart.x} series=${chart.series} />
      ${v.truncated && html`<p class="hint">The window holds more downloads than one view reads; the figures cover the newest.</p>`}
      <div class="columns">
        <div><h2>Back to source</h2>
          <${Table} testid="back-to-source" rows=${v.back_to_source} empty="No download went to an origin." columns=${[
            { label: 'Why', cell: (r: Dashboard['back_to_source'][number]) => html`${r.reason} <small><code>${r.code}</code></small>` },
            { label: 'Downloads', cell: (r: Dashboard['back_to_source'][number]) => r.downloads },
            { label: 'Bytes', cell: (r: Dashboard['back_to_source'][number]) => bytes(r.bytes) },
          ]} /></div>
        <div><h2>Busiest tasks</h2>
          <${Table} rows=${v.busiest_tasks} empty="No download." columns=${[
            { label: 'URL', cell: (r: Dashboard['busiest_tasks'][number]) => html`<span title=${r.task_id}>${r.url || r.task_id.slice(0, 16)}</span>` },
            { label: 'Downloads', cell: (r: Dashboard['busiest_tasks'][number]) => r.downloads },
            { label: 'Bytes', cell: (r: Dashboard['busiest_tasks'][number]) => bytes(r.bytes) },
          ]} /></div>
        <div><h2>Busiest hosts</h2>
          <${Table} rows=${v.busiest_hosts} empty="No download." columns=${[
            { label: 'Host', cell: (r: Dashboard['busiest_hosts'][number]) => html`${r.hostname} (${r.ip}) <small><code>${r.host_id}</code></small>` },
            { label: 'Downloads', cell: (r: Dashboard['busiest_hosts'][number]) => r.downloads },
            { label: 'Bytes', cell: (r: Dashboard['busiest_hosts'][number]) => bytes(r.bytes) },
          ]} /></div>
      </div>`}
  </${Page}>`;
}
