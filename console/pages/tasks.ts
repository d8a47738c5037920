import { useState } from 'preact/hooks';
import { runJob, type Job } from '../api.js';
import { ErrorBox, fieldsOf, html, Page } from '../ui.js';
import { Results } from './jobs.js';

/**
 * Tasks: find one by URL or task id (a get_task job: which peers hold it and how much), and
 * delete it from every peer (a delete_task job).
 */
export function Tasks() {
  const [query, setQuery] = useState<Record<string, string>>();
  const [found, setFound] = useState<Job>();
  const [deleted, setDeleted] = useState<Job>();
  const [error, setError] = useState<unknown>();
  const args = (f: Record<string, string>) => {
    const q = (f.q ?? '').trim();
    return /^[0-9a-f]{64}$/.test(q) ? { task_id: q } : { url: q, ...(f.tag && { tag: f.tag }), ...(f.application && { application: f.application }) };
  };
  const search = async (e: Event) => {
    const f = fieldsOf(e);
    setQuery(f);
    setError(undefined);
    setDeleted(undefined);
    try {
      await runJob({ type: 'get_task', args: args(f) }, setFound);
    } catch (err) {
      setError(err);
    }
  };
  const remove = async () => {
    if (!query || !confirm('Delete this task from every peer that holds it?')) return;
    try {
      await runJob({ type: 'delete_task', args: args(query) }, setDeleted);
    } catch (err) {
      setError(err);
    }
  };
  return html`<${Page} title="Tasks">
    <form class="inline" onSubmit=${search}>
      <label class="grow">URL or task id <input name="q" required placeholder="https://… or 64 hex characters" /></label>
      <label>Tag <input name="tag" /></label>
      <label>Application <input name="application" /></label>
      <button type="submit">Find holders</button>
    </form>
    <${ErrorBox} error=${error} />
    ${found && html`<div data-testid="task-holders">
      <h2>Peers holding it <small>(job #${found.number}, ${found.state})</small></h2>
      <${Results} job=${found} testid="holders" />
      <button class="danger" onClick=${remove}>Delete task</button>
    </div>`}
    ${deleted && html`<div><h2>Deleted <small>(job #${deleted.number}, ${deleted.state})</small></h2><${Results} job=${deleted} /></div>`}
    <p class="hint">Persistent-cache tasks have no manager API yet; list them with <code>d7y cache list</code>.</p>
  </${Page}>`;
}
