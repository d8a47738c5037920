import { useState } from 'preact/hooks';
import type { ManagerCacheDeletion, ManagerCacheTaskView } from '../../core/protocol/manager/manager-views.js';
import { api } from '../api.js';
import { bytes, ErrorBox, html, Page, Table, useLoad, when } from '../ui.js';

type CacheTask = ManagerCacheTaskView;
type Holder = CacheTask['persistent_cache_peers'][number];
interface Cluster { id: string; name: string }

const PATH = '/api/v1/persistent-cache-tasks';
/** The most tasks the page lists (the API's largest page). */
const PER_PAGE = 1000;

/** Time left until `iso`, in the two largest units (`3 h 12 min`), or `expired`. */
function timeLeft(iso: string, now = Date.now()): string {
  let s = Math.floor((Date.parse(iso) - now) / 1000);
  if (!(s > 0)) return 'expired';
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['min', 60], ['s', 1]] as const) {
    if (s >= size || (parts.length === 0 && unit === 's')) parts.push(`${Math.floor(s / size)} ${unit}`);
    s %= size;
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}

const shortId = (id: string) => `${id.slice(0, 12)}…`;
const replicas = (t: CacheTask) => `${t.current_persistent_replica_count} of ${t.persistent_replica_count}${t.current_replica_count ? ` (+${t.current_replica_count} cached)` : ''}`;
const holderNames = (t: CacheTask) => t.persistent_cache_peers.map((p) => p.host.hostname).join(', ') || '–';

/** One task: its facts and every host holding a copy. */
function CacheTaskDetail({ task, clusterName, onDelete }: { task: CacheTask; clusterName: (id: string) => string; onDelete: () => void }) {
  return html`<div class="editor" data-testid="cache-task">
    <h2>${task.name || shortId(task.task_id)} <small class=${`badge ${task.state}`}>${task.state}</small></h2>
    <table class="facts">
      <tbody>
        <tr><th>Task id</th><td><code>${task.task_id}</code></td></tr>
        <tr><th>Digest</th><td><code>${task.digest || '–'}</code></td></tr>
        <tr><th>Size</th><td>${bytes(task.content_length)} in ${task.total_piece_count} pieces of ${bytes(task.piece_length)}</td></tr>
        <tr><th>Tag / application</th><td>${task.tag || '–'} / ${task.application || '–'}</td></tr>
        <tr><th>Replicas</th><td>${replicas(task)}</td></tr>
        <tr><th>Created</th><td>${when(task.created_at)}</td></tr>
        <tr><th>Expires</th><td>${when(task.expires_at)} (${timeLeft(task.expires_at)} left)</td></tr>
      </tbody>
    </table>
    <h3>Holders</h3>
    <${Table} testid="cache-holders" rows=${task.persistent_cache_peers} empty="No host holds a copy." columns=${[
      { label: 'Host', cell: (p: Holder) => p.host.hostname },
      { label: 'IP', cell: (p: Holder) => p.host.ip },
      { label: 'Type', cell: (p: Holder) => (p.host.type === 'super' ? 'seed peer' : 'peer') },
      { label: 'Copy', cell: (p: Holder) => (p.persistent ? 'replica (kept until the TTL)' : 'cached by an export') },
      { label: 'Ports (gRPC / pieces)', cell: (p: Holder) => `${p.host.port} / ${p.host.download_port}` },
      { label: 'Since', cell: (p: Holder) => when(p.created_at) },
      { label: 'Scheduler cluster', cell: (p: Holder) => clusterName(p.scheduler_cluster_id) },
    ]} />
    <p><button class="danger" onClick=${onDelete}>Delete task</button></p>
  </div>`;
}

/**
 * Persistent-cache tasks of every scheduler cluster of the tenant, as their schedulers report
 * them: size, replicas, holders, TTL left; one task's holders; a cluster-wide delete.
 */
export function PersistentCache({ id }: { id?: string }) {
  const list = useLoad(() => api<CacheTask[]>('GET', PATH, undefined, { per_page: PER_PAGE }));
  const clusters = useLoad(() => api<Cluster[]>('GET', '/api/v1/scheduler-clusters'));
  const one = useLoad(() => (id ? api<CacheTask>('GET', `${PATH}/${encodeURIComponent(id)}`) : Promise.resolve(undefined)), [id]);
  const [deleted, setDeleted] = useState<ManagerCacheDeletion>();
  const [error, setError] = useState<unknown>();
  const clusterName = (cid: string) => clusters.data?.find((c) => c.id === cid)?.name ?? cid;
  const remove = async (task: CacheTask) => {
    if (!confirm(`Delete persistent-cache task ${task.name || task.task_id} from every peer that holds it, in every scheduler cluster?`)) return;
    setError(undefined);
    setDeleted(undefined);
    try {
      setDeleted(await api<ManagerCacheDeletion>('DELETE', `${PATH}/${task.task_id}`));
      if (id) location.hash = '#/persistent-cache';
    } catch (err) {
      setError(err);
    }
    list.reload();
  };
  const refresh = () => { setDeleted(undefined); list.reload(); clusters.reload(); one.reload(); };
  // The rows wait for the clusters' names, so that a cluster never shows as its id first.
  const rows = clusters.loading && !clusters.data ? undefined : list.data;
  return html`<${Page} title="Persistent cache">
    <div class="inline"><button class="secondary" onClick=${refresh}>Refresh</button>
      <span class="hint">Files imported with <code>d7y cache import</code>, as the schedulers report them every few seconds.</span></div>
    <${ErrorBox} error=${list.error ?? error} />
    ${deleted && html`<p class="ok" data-testid="cache-deleted">${deleted.state === 'deleted'
      ? `Deleted ${deleted.task_id} from ${deleted.hosts.length} host${deleted.hosts.length === 1 ? '' : 's'}.`
      : `Deleting ${deleted.task_id}: ${deleted.message ?? 'the schedulers have not confirmed yet'}.`}</p>`}
    <${Table} testid="cache-tasks" rows=${rows} empty="No persistent-cache task: import a file with d7y cache import on a peer of a scheduler cluster linked to this manager." columns=${[
      { label: 'Task', cell: (t: CacheTask) => html`<a href=${`#/persistent-cache/${t.task_id}`} title=${t.task_id}>${t.name || shortId(t.task_id)}</a>${t.name ? html`<br /><small><code>${shortId(t.task_id)}</code></small>` : null}` },
      { label: 'Size', cell: (t: CacheTask) => bytes(t.content_length) },
      { label: 'Pieces', cell: (t: CacheTask) => t.total_piece_count },
      { label: 'Replicas (current of wanted)', cell: (t: CacheTask) => replicas(t) },
      { label: 'Holders', cell: (t: CacheTask) => holderNames(t) },
      { label: 'TTL left', cell: (t: CacheTask) => html`<span title=${when(t.expires_at)}>${timeLeft(t.expires_at)}</span>` },
      { label: 'Scheduler cluster', cell: (t: CacheTask) => t.scheduler_cluster_ids.map(clusterName).join(', ') },
      { label: 'State', cell: (t: CacheTask) => html`<span class=${`badge ${t.state}`}>${t.state}</span>` },
      { label: '', cell: (t: CacheTask) => html`<button class="danger" data-testid=${`delete-${t.task_id}`} onClick=${() => remove(t)}>Delete</button>` },
    ]} />
    ${id && html`<${ErrorBox} error=${one.error} />`}
    ${id && one.data && html`<${CacheTaskDetail} task=${one.data} clusterName=${clusterName} onDelete=${() => remove(one.data!)} />`}
  </${Page}>`;
}
