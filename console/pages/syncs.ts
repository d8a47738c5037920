import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { ErrorBox, fieldsOf, html, Page, Table, useLoad, when } from '../ui.js';

interface Sync { id: string; name: string; source: string; schedule: string; state: string; scope: string; mode?: string; destination?: string; next_run_at: string | null; created_at: string }
interface SyncRun { id: string; state: string; job_id: string | null; report: Record<string, unknown> | null; error: string | null; started_at: string; finished_at: string | null }
interface Webhook { id: string; name: string; url: string; events: string[]; created_at: string }
interface Delivery { id: string; event: string; state: string; attempts: unknown[]; last_status: number | null; next_attempt_at: string | null; created_at: string }

const EVENTS = ['job.succeeded', 'job.failed', 'sync.run.finished', 'peer.offline', 'scheduler.offline', 'command.finished'];

/** Runs `fn`, then reloads; keeps the error for the page. */
function useAct(reload: () => void): [unknown, (fn: () => Promise<unknown>) => Promise<void>] {
  const [error, setError] = useState<unknown>();
  const act = async (fn: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await fn();
      reload();
    } catch (err) {
      setError(err);
    }
  };
  return [error, act];
}

/** A run's report as "listed 10, changed 2, …". */
function report(r: SyncRun | undefined): string {
  if (!r) return 'never run';
  const parts = Object.entries(r.report ?? {}).filter(([, v]) => typeof v === 'number').map(([k, v]) => `${k} ${String(v)}`);
  return [parts.join(', '), r.error].filter(Boolean).join(' — ') || '–';
}

/** A sync job's row: its last run and report, pause/resume, run now, delete. */
function SyncRow({ sync, act }: { sync: Sync; act: (fn: () => Promise<unknown>) => Promise<void> }) {
  const runs = useLoad(() => api<SyncRun[]>('GET', `/api/v1/syncs/${sync.id}/runs`, undefined, { limit: 1 }), [sync.id, sync.state]);
  const last = runs.data?.[0];
  const base = `/api/v1/syncs/${sync.id}`;
  return html`<tr>
    <td>${sync.name}<br /><small><code>${sync.source}</code>${sync.mode === 'copy' ? html` → <code>${sync.destination}</code> (copied by a seed peer)` : ''}</small></td>
    <td><code>${sync.schedule}</code></td>
    <td><span class=${`badge ${sync.state}`}>${sync.state}</span></td>
    <td>${when(sync.next_run_at)}</td>
    <td>${last ? html`<span class=${`badge ${last.state}`}>${last.state}</span> ${when(last.started_at)}` : '–'}</td>
    <td>${report(last)}</td>
    <td>
      <button class="secondary" onClick=${() => act(() => api('POST', `${base}/${sync.state === 'active' ? 'pause' : 'resume'}`))}>${sync.state === 'active' ? 'Pause' : 'Resume'}</button>
      <button class="secondary" onClick=${() => act(async () => { await api('POST', `${base}/run`); runs.reload(); })}>Run now</button>
      <button class="danger" onClick=${() => confirm(`Delete sync job ${sync.name}?`) && act(() => api('DELETE', base))}>Delete</button>
    </td>
  </tr>`;
}

/** Sync jobs: create (source + cron schedule; warm the peers, or copy to a destination on a seed peer), each one's last run and report, pause/resume, run now, delete. */
function Syncs() {
  const list = useLoad(() => api<Sync[]>('GET', '/api/v1/syncs'));
  const [error, act] = useAct(list.reload);
  const create = (e: Event) => {
    const f = fieldsOf(e);
    const copy = f.destination ? { mode: 'copy', destination: f.destination } : {};
    void act(() => api('POST', '/api/v1/syncs', { source: f.source, schedule: f.schedule, scope: f.scope, ...copy, ...(f.sync_name && { name: f.sync_name }) }));
  };
  return html`<h2>Sync jobs</h2>
    <form class="inline" onSubmit=${create} data-testid="sync-form">
      <label>Source <input name="source" required placeholder="s3://bucket/prefix/" /></label>
      <label>Schedule (cron) <input name="schedule" required value="*/15 * * * *" /></label>
      <label>Scope <select name="scope"><option value="all_peers">all peers</option><option value="all_seed_peers">all seed peers</option><option value="single_seed_peer">single seed peer</option></select></label>
      <label>Sync name <input name="sync_name" /></label>
      <label>Copy to (on a seed peer) <input name="destination" placeholder="empty: warm the peers" /></label>
      <button type="submit">Create sync job</button>
    </form>
    <${ErrorBox} error=${error ?? list.error} />
    ${list.data && (list.data.length === 0 ? html`<p class="empty" data-testid="syncs-empty">No sync jobs yet.</p>` : html`<table data-testid="syncs">
      <thead><tr><th>Name / source</th><th>Schedule</th><th>State</th><th>Next run</th><th>Last run</th><th>Report</th><th></th></tr></thead>
      <tbody>${list.data.map((x) => html`<${SyncRow} key=${x.id} sync=${x} act=${act} />`)}</tbody>
    </table>`)}`;
}

/** Webhooks: create (the secret shown once), list, delete, and one webhook's delivery log. */
function Webhooks() {
  const list = useLoad(() => api<Webhook[]>('GET', '/api/v1/webhooks'));
  const [error, act] = useAct(list.reload);
  const [created, setCreated] = useState<{ name: string; secret: string }>();
  const [open, setOpen] = useState<Webhook>();
  const deliveries = useLoad(() => (open ? api<Delivery[]>('GET', `/api/v1/webhooks/${open.id}/deliveries`, undefined, { limit: 50 }) : Promise.resolve(undefined)), [open?.id]);
  const create = (e: Event) => {
    const f = fieldsOf(e);
    const events = EVENTS.filter((ev) => f[`event_${ev}`] === 'on');
    void act(async () => {
      const r = await api<{ name: string; secret: string }>('POST', '/api/v1/webhooks', { url: f.url, events, ...(f.hook_name && { name: f.hook_name }) });
      setCreated({ name: r.name, secret: r.secret });
    });
  };
  return html`<h2>Webhooks</h2>
    <form class="inline" onSubmit=${create} data-testid="webhook-form">
      <label>Webhook URL <input name="url" required placeholder="https://hooks.example.com/d7y" /></label>
      <label>Webhook name <input name="hook_name" /></label>
      ${EVENTS.map((ev) => html`<label><input type="checkbox" name=${`event_${ev}`} checked=${ev.startsWith('job.') || ev.startsWith('sync.')} /> ${ev}</label>`)}
      <button type="submit">Create webhook</button>
    </form>
    <p class="hint">The manager only reaches hosts listed in <code>manager.webhooks.allowedHosts</code>.</p>
    ${created && html`<div class="notice" data-testid="new-webhook">
      <p>Webhook <b>${created.name}</b> — its signing secret, not shown again:</p>
      <code class="secret">${created.secret}</code>
      <button class="secondary" onClick=${() => setCreated(undefined)}>Done</button>
    </div>`}
    <${ErrorBox} error=${error ?? list.error} />
    <${Table} testid="webhooks" rows=${list.data} empty="No webhooks yet." columns=${[
      { label: 'Name', cell: (w: Webhook) => html`<a href="#/syncs" onClick=${(e: Event) => { e.preventDefault(); setOpen(w); }}>${w.name}</a>` },
      { label: 'URL', cell: (w: Webhook) => html`<code>${w.url}</code>` },
      { label: 'Events', cell: (w: Webhook) => w.events.join(', ') },
      { label: 'Created', cell: (w: Webhook) => when(w.created_at) },
      { label: '', cell: (w: Webhook) => html`<button class="danger" onClick=${() => confirm(`Delete webhook ${w.name}?`) && act(async () => {
        await api('DELETE', `/api/v1/webhooks/${w.id}`);
        if (open?.id === w.id) setOpen(undefined);
      })}>Delete</button>` },
    ]} />
    ${open && html`<h2>Deliveries of ${open.name}</h2>
      <button class="secondary" onClick=${deliveries.reload}>Refresh</button>
      <${ErrorBox} error=${deliveries.error} />
      <${Table} testid="deliveries" rows=${deliveries.data} empty="No deliveries yet." columns=${[
        { label: 'Event', cell: (d: Delivery) => d.event },
        { label: 'State', cell: (d: Delivery) => html`<span class=${`badge ${d.state}`}>${d.state}</span>` },
        { label: 'Attempts', cell: (d: Delivery) => d.attempts.length },
        { label: 'Last status', cell: (d: Delivery) => d.last_status ?? '–' },
        { label: 'Next attempt', cell: (d: Delivery) => when(d.next_attempt_at) },
        { label: 'Created', cell: (d: Delivery) => when(d.created_at) },
      ]} />`}`;
}

/** Sync jobs and webhooks on one page. */
export function SyncsAndWebhooks() {
  return html`<${Page} title="Sync & webhooks"><${Syncs} /><${Webhooks} /></${Page}>`;
}
