import { useState } from 'preact/hooks';
import { api, resultsOf, runJob, type Job, type PeerResult } from '../api.js';
import { bytes, ErrorBox, fieldsOf, html, Page, Table, useLoad, when } from '../ui.js';

/** Per-peer results of a job. */
export function Results({ job, testid }: { job: Job; testid?: string }) {
  const errors = job.runs.filter((r) => r.error).map((r) => r.error);
  return html`<div>
    ${errors.map((e) => html`<div class="error">${e}</div>`)}
    <${Table} testid=${testid} rows=${resultsOf(job)} empty="No peer reported yet." columns=${[
      { label: 'Host', cell: (r: PeerResult) => html`${r.hostname} <small><code>${r.host_id}</code></small>` },
      { label: 'IP', cell: (r: PeerResult) => r.ip },
      { label: 'URL / task', cell: (r: PeerResult) => r.url ?? html`<code>${r.task_id?.slice(0, 16)}</code>` },
      { label: 'State', cell: (r: PeerResult) => html`<span class=${`badge ${r.state}`}>${r.state}</span>` },
      { label: 'Bytes', cell: (r: PeerResult) => bytes(r.content_length) },
      { label: 'Pieces', cell: (r: PeerResult) => r.piece_count ?? '–' },
      { label: 'Error', cell: (r: PeerResult) => r.error ?? '' },
    ]} />
  </div>`;
}

function JobState({ job }: { job: Job }) {
  return html`<span class=${`badge ${job.state}`} data-testid="job-state">${job.state}</span>`;
}

const num = (v: string | undefined) => (v ? Number(v) : undefined);

/** The preheat form: every scope (single seed peer, all seed peers, all peers; ips, count, percentage), piece length, into memory. */
function PreheatForm({ onDone }: { onDone: () => void }) {
  const [job, setJob] = useState<Job>();
  const [error, setError] = useState<unknown>();
  const [scope, setScope] = useState('single_seed_peer');
  const submit = async (e: Event) => {
    const f = fieldsOf(e);
    setError(undefined);
    const urls = (f.urls ?? '').split(/\s+/).filter(Boolean);
    const args: Record<string, unknown> = {
      type: f.type, scope: f.scope, load_to_memory: f.load_to_memory === 'on',
      ...(urls.length === 1 ? { url: urls[0] } : { urls }),
      ...(f.tag && { tag: f.tag }), ...(f.application && { application: f.application }),
      ...(f.piece_length && { piece_length: Number(f.piece_length) * 1024 * 1024 }),
      ...(f.filtered_query_params && { filtered_query_params: f.filtered_query_params }),
      ...(f.platform && { platform: f.platform }),
      ...(f.ips && { ips: f.ips.split(/[\s,]+/).filter(Boolean) }),
      ...(num(f.count) && { count: num(f.count) }), ...(num(f.percentage) && { percentage: num(f.percentage) }),
    };
    try {
      await runJob({ type: 'preheat', args }, setJob);
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="grid" onSubmit=${submit} data-testid="preheat-form">
    <h2>Preheat</h2>
    <label>Type <select name="type"><option value="file">file</option><option value="image">image</option></select></label>
    <label class="wide">URLs (one per line; an image's manifest URL) <textarea name="urls" rows="2" required></textarea></label>
    <label>Scope <select name="scope" value=${scope} onChange=${(e: Event) => setScope((e.target as HTMLSelectElement).value)}>
      <option value="single_seed_peer">single seed peer</option><option value="all_seed_peers">all seed peers</option><option value="all_peers">all peers</option>
    </select></label>
    ${scope === 'all_peers' && html`
      <label>IPs (comma-separated) <input name="ips" /></label>
      <label>Count <input name="count" type="number" min="1" max="200" /></label>
      <label>Percentage <input name="percentage" type="number" min="1" max="100" /></label>`}
    <label>Piece length (MiB) <input name="piece_length" type="number" min="4" max="64" /></label>
    <label>Tag <input name="tag" /></label>
    <label>Application <input name="application" /></label>
    <label>Filtered query params (&-separated) <input name="filtered_query_params" /></label>
    <label>Platform (image) <input name="platform" placeholder="linux/amd64" /></label>
    <label><input type="checkbox" name="load_to_memory" /> into memory</label>
    <div class="wide"><button type="submit">Preheat</button> ${job && html`job #${job.number} <${JobState} job=${job} />`}</div>
    <${ErrorBox} error=${error} />
    ${job && html`<div class="wide"><${Results} job=${job} testid="preheat-results" /></div>`}
  </form>`;
}

/** Jobs: the preheat form, the history with progress, and a job's per-peer results. */
export function Jobs() {
  const [type, setType] = useState('');
  const list = useLoad(() => api<Job[]>('GET', '/api/v1/jobs', undefined, { type: type || undefined, limit: 100 }), [type]);
  const [open, setOpen] = useState<Job>();
  return html`<${Page} title="Jobs">
    <${PreheatForm} onDone=${list.reload} />
    <h2>History</h2>
    <div class="inline">
      <label>Type <select value=${type} onChange=${(e: Event) => setType((e.target as HTMLSelectElement).value)}>
        <option value="">all</option><option value="preheat">preheat</option><option value="get_task">get task</option><option value="delete_task">delete task</option>
      </select></label>
      <button class="secondary" onClick=${list.reload}>Refresh</button>
    </div>
    <${ErrorBox} error=${list.error} />
    <${Table} testid="jobs" rows=${list.data} empty="No jobs yet." columns=${[
      { label: '#', cell: (j: Job) => html`<a href="#/jobs" onClick=${(e: Event) => { e.preventDefault(); setOpen(j); }}>${j.number}</a>` },
      { label: 'Type', cell: (j: Job) => j.type },
      { label: 'What', cell: (j: Job) => String(j.args.url ?? (j.args.urls as string[] | undefined)?.join(' ') ?? j.args.task_id ?? '') },
      { label: 'State', cell: (j: Job) => html`<${JobState} job=${j} />` },
      { label: 'Peers ok / failed', cell: (j: Job) => `${j.succeeded_peers} / ${j.failed_peers}` },
      { label: 'Created', cell: (j: Job) => when(j.created_at) },
    ]} />
    ${open && html`<h2>Job #${open.number} (${open.type})</h2><${Results} job=${open} />`}
  </${Page}>`;
}
