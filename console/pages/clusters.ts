import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { bytes, ErrorBox, html, Page, Table, useLoad, when } from '../ui.js';

interface Cluster { id: string; number: number; name: string; scopes: unknown; config: unknown; client_config: unknown; is_default: boolean; seed_peer_cluster_id: string | null; updated_at: string }
interface SeedCluster { id: string; name: string; created_at: string }
interface Scheduler { id: string; cluster_id: string; hostname: string; ip: string; port: number; idc: string; location: string; state: string; last_keepalive_at: string }
interface SeedPeer { id: string; cluster_id: string; hostname: string; ip: string; rpc_port: number; upload_port: number; idc: string; location: string; state: string; last_keepalive_at: string }
interface Peer { host_id: string; hostname: string; ip: string; type: string; downloads: number; peer_bytes: number; source_bytes: number; last_seen_at: string }

const pretty = (v: unknown) => JSON.stringify(v ?? {}, null, 2);

/** The dynamic-config editor of one scheduler cluster: scopes, scheduler config, peer config, as JSON. */
function ClusterEditor({ cluster, onSaved }: { cluster: Cluster; onSaved: () => void }) {
  const [scopes, setScopes] = useState(pretty(cluster.scopes));
  const [config, setConfig] = useState(pretty(cluster.config));
  const [client, setClient] = useState(pretty(cluster.client_config));
  const [error, setError] = useState<unknown>();
  const [saved, setSaved] = useState(false);
  const save = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    setSaved(false);
    try {
      const parse = (what: string, text: string) => {
        try {
          return JSON.parse(text) as unknown;
        } catch (err) {
          throw new Error(`${what} is not JSON: ${(err as Error).message}`);
        }
      };
      await api('PATCH', `/api/v1/scheduler-clusters/${cluster.id}`, {
        scopes: parse('scopes', scopes), config: parse('scheduler config', config), client_config: parse('peer config', client),
      });
      setSaved(true);
      onSaved();
    } catch (err) {
      setError(err);
    }
  };
  const area = (label: string, value: string, set: (v: string) => void, name: string) => html`<label class="block">${label}
    <textarea name=${name} rows="6" spellcheck="false" value=${value} onInput=${(e: Event) => set((e.target as HTMLTextAreaElement).value)}></textarea></label>`;
  return html`<form class="editor" onSubmit=${save} data-testid="cluster-editor">
    <h2>${cluster.name} <small>#${cluster.number}${cluster.is_default ? ' · default' : ''}</small></h2>
    ${area('Scopes (idc, location, cidrs, hostnames)', scopes, setScopes, 'scopes')}
    ${area('Scheduler dynamic config (evaluator, experiment, limits)', config, setConfig, 'config')}
    ${area('Peer dynamic config', client, setClient, 'client_config')}
    <button type="submit">Save</button> ${saved && html`<span class="ok">Saved: schedulers apply it at their next keepalive.</span>`}
    <${ErrorBox} error=${error} />
  </form>`;
}

/** Scheduler clusters with their scopes and dynamic config, and seed-peer clusters. */
export function Clusters() {
  const clusters = useLoad(() => api<Cluster[]>('GET', '/api/v1/scheduler-clusters'));
  const seeds = useLoad(() => api<SeedCluster[]>('GET', '/api/v1/seed-peer-clusters'));
  const [open, setOpen] = useState<string>();
  const selected = clusters.data?.find((c) => c.id === open);
  return html`<${Page} title="Clusters">
    <h2>Scheduler clusters</h2>
    <${ErrorBox} error=${clusters.error} />
    <${Table} testid="clusters" rows=${clusters.data} empty="No scheduler cluster: a scheduler configured with this manager registers one." columns=${[
      { label: 'Name', cell: (c: Cluster) => html`<a href="#/clusters" onClick=${(e: Event) => { e.preventDefault(); setOpen(c.id); }}>${c.name}</a>` },
      { label: 'Number', cell: (c: Cluster) => c.number },
      { label: 'Scopes', cell: (c: Cluster) => html`<code>${JSON.stringify(c.scopes)}</code>` },
      { label: 'Config', cell: (c: Cluster) => html`<code>${JSON.stringify(c.config)}</code>` },
      { label: 'Updated', cell: (c: Cluster) => when(c.updated_at) },
    ]} />
    ${selected && html`<${ClusterEditor} key=${selected.id} cluster=${selected} onSaved=${clusters.reload} />`}
    <h2>Seed-peer clusters</h2>
    <${ErrorBox} error=${seeds.error} />
    <${Table} rows=${seeds.data} empty="No seed-peer cluster." columns=${[
      { label: 'Name', cell: (c: SeedCluster) => c.name },
      { label: 'Id', cell: (c: SeedCluster) => html`<code>${c.id}</code>` },
      { label: 'Created', cell: (c: SeedCluster) => when(c.created_at) },
    ]} />
  </${Page}>`;
}

const state = (s: string) => html`<span class=${`badge ${s}`}>${s}</span>`;

/** Schedulers, seed peers (from their registration and keepalives) and the peers seen in downloads. */
export function Nodes() {
  const schedulers = useLoad(() => api<Scheduler[]>('GET', '/api/v1/schedulers'));
  const seeds = useLoad(() => api<SeedPeer[]>('GET', '/api/v1/seed-peers'));
  const peers = useLoad(() => api<Peer[]>('GET', '/api/v1/peers'));
  return html`<${Page} title="Schedulers, seed peers and peers">
    <h2>Schedulers</h2>
    <${ErrorBox} error=${schedulers.error} />
    <${Table} testid="schedulers" rows=${schedulers.data} empty="No scheduler registered." columns=${[
      { label: 'Host', cell: (s: Scheduler) => s.hostname },
      { label: 'Address', cell: (s: Scheduler) => `${s.ip}:${s.port}` },
      { label: 'IDC / location', cell: (s: Scheduler) => [s.idc, s.location].filter(Boolean).join(' · ') || '–' },
      { label: 'State', cell: (s: Scheduler) => state(s.state) },
      { label: 'Last keepalive', cell: (s: Scheduler) => when(s.last_keepalive_at) },
    ]} />
    <h2>Seed peers</h2>
    <${ErrorBox} error=${seeds.error} />
    <${Table} testid="seed-peers" rows=${seeds.data} empty="No seed peer registered." columns=${[
      { label: 'Host', cell: (s: SeedPeer) => s.hostname },
      { label: 'Address', cell: (s: SeedPeer) => `${s.ip} rpc :${s.rpc_port} upload :${s.upload_port}` },
      { label: 'IDC / location', cell: (s: SeedPeer) => [s.idc, s.location].filter(Boolean).join(' · ') || '–' },
      { label: 'State', cell: (s: SeedPeer) => state(s.state) },
      { label: 'Last keepalive', cell: (s: SeedPeer) => when(s.last_keepalive_at) },
    ]} />
    <h2>Peers seen in downloads</h2>
    <${ErrorBox} error=${peers.error} />
    <${Table} testid="peers" rows=${peers.data} empty="No download reported yet." columns=${[
      { label: 'Host', cell: (p: Peer) => p.hostname },
      { label: 'IP', cell: (p: Peer) => p.ip },
      { label: 'Type', cell: (p: Peer) => p.type },
      { label: 'Downloads', cell: (p: Peer) => p.downloads },
      { label: 'From peers', cell: (p: Peer) => bytes(p.peer_bytes) },
      { label: 'From origins', cell: (p: Peer) => bytes(p.source_bytes) },
      { label: 'Last seen', cell: (p: Peer) => when(p.last_seen_at) },
    ]} />
  </${Page}>`;
}
