import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { ErrorBox, fieldsOf, html, Page, Table, useLoad, when } from '../ui.js';

interface Audit { id: string; actor_type: string; actor_name: string; method: string; path: string; status: number; success: boolean; created_at: string }

/** The audit log, newest first, filtered by actor, method, path prefix, status, outcome and time. */
export function AuditLog() {
  const [filters, setFilters] = useState<Record<string, string>>({});
  const list = useLoad(() => api<Audit[]>('GET', '/api/v1/audits', undefined, { ...filters, limit: 200 }), [JSON.stringify(filters)]);
  const apply = (e: Event) => {
    const f = fieldsOf(e);
    setFilters(Object.fromEntries(Object.entries(f).filter(([, v]) => v)));
  };
  return html`<${Page} title="Audit log">
    <form class="inline" onSubmit=${apply}>
      <label>Actor <select name="actor_type"><option value="">any</option><option value="user">user</option><option value="pat">token</option><option value="unknown">unknown</option></select></label>
      <label>Name <input name="actor_name" /></label>
      <label>Method <select name="method"><option value="">any</option>${['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].map((m) => html`<option>${m}</option>`)}</select></label>
      <label>Path prefix <input name="path" placeholder="/api/v1/jobs" /></label>
      <label>Status <input name="status" type="number" min="100" max="599" /></label>
      <label>Outcome <select name="success"><option value="">any</option><option value="true">success</option><option value="false">failure</option></select></label>
      <label>Since <input name="since" type="datetime-local" /></label>
      <button type="submit">Filter</button>
    </form>
    <${ErrorBox} error=${list.error} />
    <${Table} testid="audits" rows=${list.data} empty="No matching record." columns=${[
      { label: 'Time', cell: (a: Audit) => when(a.created_at) },
      { label: 'Actor', cell: (a: Audit) => `${a.actor_type}:${a.actor_name}` },
      { label: 'Call', cell: (a: Audit) => html`<code>${a.method} ${a.path}</code>` },
      { label: 'Status', cell: (a: Audit) => html`<span class=${`badge ${a.success ? 'succeeded' : 'failed'}`}>${a.status}</span>` },
    ]} />
  </${Page}>`;
}
