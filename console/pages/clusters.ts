import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { bytes, ErrorBox, html, Page, Table, useLoad, when } from '../ui.js';

interface Cluster { id: string; number: number; name: string; scopes: unknown; config: unknown; client_config: unknown; is_default: boolean; seed_peer_cluster_id: string | null; updated_at: string }
interface SeedCluster { id: string; name: string; created_at: string }
interface Scheduler { id: string; cluster_id: string; hostname: string; ip: string; port: number; idc: string; location: string; state: string; last_keepalive_at: string }
interface Registered {
  id: string; type: 'normal' | 'seed'; hostname: string; ip: string; version: string; state: string; reported_state: string;
  ports: { rpc: number; upload: number; piece_http?: number; proxy?: number };
  disk: { total: number; used: number; free: number };
  bandwidth: { upload_bps: number; download_bps: number; upload_limit: number; download_limit: number };
  last_keepalive_at: string;
}
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

const rate = (bps: number, limit: number) => `${bytes(bps)}/s${limit ? ` of ${bytes(limit)}/s` : ''}`;

/** Peers or seed peers as they registered and last kept alive. */
function RegisteredPeers({ rows, testid, empty }: { rows: Registered[] | undefined; testid: string; empty: string }) {
  return html`<${Table} testid=${testid} rows=${rows} empty=${empty} columns=${[
    { label: 'Host', cell: (p: Registered) => p.hostname },
    { label: 'Version', cell: (p: Registered) => p.version },
    { label: 'Address', cell: (p: Registered) => `${p.ip} rpc :${p.ports.rpc} upload :${p.ports.upload}${p.ports.proxy ? ` proxy :${p.ports.proxy}` : ''}` },
    { label: 'State', cell: (p: Registered) => html`${state(p.state)}${p.reported_state === 'draining' ? html` ${state('draining')}` : ''}` },
    { label: 'Disk', cell: (p: Registered) => `${bytes(p.disk.used)} used of ${bytes(p.disk.total)}, ${bytes(p.disk.free)} free` },
    { label: 'Upload', cell: (p: Registered) => rate(p.bandwidth.upload_bps, p.bandwidth.upload_limit) },
    { label: 'Download', cell: (p: Registered) => rate(p.bandwidth.download_bps, p.bandwidth.download_limit) },
    { label: 'Last keepalive', cell: (p: Registered) => when(p.last_keepalive_at) },
  ]} />`;
}

/** Schedulers, seed peers and peers (from their registration and keepalives), and the hosts seen in downloads. */
export function Nodes() {
  const schedulers = useLoad(() => api<Scheduler[]>('GET', '/api/v1/schedulers'));
  const registered = useLoad(() => api<Registered[]>('GET', '/api/v1/peers'));
  const seen = useLoad(() => api<Peer[]>('GET', '/api/v1/downloads/peers'));
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
    <${ErrorBox} error=${registered.error} />
    <h2>Seed peers</h2>
    <${RegisteredPeers} testid="seed-peers" rows=${registered.data?.filter((p) => p.type === 'seed')} empty="No seed peer registered." />
    <h2>Peers</h2>
    <${RegisteredPeers} testid="peers" rows=${registered.data?.filter((p) => p.type === 'normal')} empty="No peer registered: a peer with a manager link registers at start." />
    <h2>Hosts seen in downloads</h2>
    <${ErrorBox} error=${seen.error} />
    <${Table} testid="download-peers" rows=${seen.data} empty="No download reported yet." columns=${[
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
