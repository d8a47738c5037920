import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { ErrorBox, fieldsOf, html, Page, Table, useLoad, when } from '../ui.js';

interface Token { id: string; name: string; prefix: string; scopes: string[]; state: string; expires_at: string; created_at: string; last_used_at: string | null }
interface User { id: string; name: string; role: string; tenant: string; created_at: string }
interface Tenant { id: string; name: string; users: number; created_at: string }

/** Personal access tokens: create with scopes (the token shown once, with a copy button), deactivate, revoke. */
export function Tokens() {
  const list = useLoad(() => api<Token[]>('GET', '/api/v1/personal-access-tokens'));
  const [created, setCreated] = useState<{ name: string; token: string }>();
  const [copied, setCopied] = useState(false);
  const [error, setError] = useState<unknown>();
  const act = async (fn: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await fn();
      list.reload();
    } catch (err) {
      setError(err);
    }
  };
  const create = (e: Event) => {
    const f = fieldsOf(e);
    const scopes = ['job', 'cluster', 'persistent_cache', 'seed'].filter((s) => f[`scope_${s}`] === 'on');
    void act(async () => {
      const r = await api<{ name: string; token: string }>('POST', '/api/v1/personal-access-tokens', { name: f.name, scopes, expires_in_days: Number(f.days || 30) });
      setCopied(false);
      setCreated({ name: r.name, token: r.token });
    });
  };
  const copy = async () => {
    if (!created) return;
    await navigator.clipboard?.writeText(created.token).catch(() => undefined);
    setCopied(true);
  };
  return html`<${Page} title="Personal access tokens">
    <form class="inline" onSubmit=${create}>
      <label>Name <input name="name" required maxlength="255" /></label>
      <label><input type="checkbox" name="scope_job" checked /> job</label>
      <label><input type="checkbox" name="scope_cluster" /> cluster</label>
      <label><input type="checkbox" name="scope_persistent_cache" /> persistent_cache</label>
      <label title="the seed credential: for the tokens of schedulers and seed peers"><input type="checkbox" name="scope_seed" /> seed</label>
      <label>Days <input name="days" type="number" min="1" max="3650" value="30" /></label>
      <button type="submit">Create token</button>
    </form>
    ${created && html`<div class="notice" data-testid="new-token">
      <p>Token <b>${created.name}</b> — copy it now, it is not shown again:</p>
      <code class="secret">${created.token}</code>
      <button onClick=${copy}>${copied ? 'Copied' : 'Copy'}</button>
      <button class="secondary" onClick=${() => setCreated(undefined)}>Done</button>
    </div>`}
    <${ErrorBox} error=${error ?? list.error} />
    <${Table} testid="tokens" rows=${list.data} empty="No tokens yet." columns=${[
      { label: 'Name', cell: (t: Token) => t.name },
      { label: 'Prefix', cell: (t: Token) => html`<code>${t.prefix}</code>` },
      { label: 'Scopes', cell: (t: Token) => t.scopes.join(', ') },
      { label: 'State', cell: (t: Token) => t.state },
      { label: 'Expires', cell: (t: Token) => when(t.expires_at) },
      { label: 'Last used', cell: (t: Token) => when(t.last_used_at) },
      { label: '', cell: (t: Token) => html`
        <button class="secondary" onClick=${() => act(() => api('PATCH', `/api/v1/personal-access-tokens/${t.id}`, { state: t.state === 'active' ? 'inactive' : 'active' }))}>${t.state === 'active' ? 'Deactivate' : 'Activate'}</button>
        <button class="danger" data-testid=${`revoke-${t.name}`} onClick=${() => confirm(`Revoke token ${t.name}?`) && act(() => api('DELETE', `/api/v1/personal-access-tokens/${t.id}`))}>Revoke</button>` },
    ]} />
  </${Page}>`;
}

/** Users with their role and tenant; root creates users, in a new or existing tenant. */
export function Users({ me }: { me: { role: string } }) {
  const list = useLoad(() => api<User[]>('GET', '/api/v1/users'));
  const [error, setError] = useState<unknown>();
  const create = async (e: Event) => {
    const f = fieldsOf(e);
    setError(undefined);
    try {
      await api('POST', '/api/v1/users', { name: f.name, password: f.password, ...(f.tenant && { tenant: f.tenant }) });
      list.reload();
    } catch (err) {
      setError(err);
    }
  };
  return html`<${Page} title="Users and roles">
    ${me.role === 'root' && html`<form class="inline" onSubmit=${create}>
      <label>Name <input name="name" required /></label>
      <label>Password <input name="password" type="password" minlength="8" required /></label>
      <label>Tenant <input name="tenant" placeholder="(mine)" /></label>
      <button type="submit">Create user</button>
    </form>`}
    <${ErrorBox} error=${error ?? list.error} />
    <${Table} rows=${list.data} empty="No users." columns=${[
      { label: 'Name', cell: (u: User) => u.name },
      { label: 'Role', cell: (u: User) => html`<span class=${`badge ${u.role}`}>${u.role}</span>` },
      { label: 'Tenant', cell: (u: User) => u.tenant },
      { label: 'Created', cell: (u: User) => when(u.created_at) },
    ]} />
    <p class="hint">Root manages users, clusters of every tenant's own and tenants; a user sees and changes only the rows of their tenant. Tokens carry the scopes <code>job</code> and <code>cluster</code>.</p>
  </${Page}>`;
}

/** Tenants (root only) with their users. */
export function Tenants({ me }: { me: { role: string; tenant: string } }) {
  const list = useLoad(() => (me.role === 'root' ? api<Tenant[]>('GET', '/api/v1/tenants') : Promise.resolve<Tenant[]>([])));
  return html`<${Page} title="Tenants">
    <p>You are in tenant <b>${me.tenant}</b>.</p>
    ${me.role === 'root' ? html`<${Table} rows=${list.data} empty="No tenants." columns=${[
      { label: 'Name', cell: (t: Tenant) => t.name },
      { label: 'Users', cell: (t: Tenant) => t.users },
      { label: 'Created', cell: (t: Tenant) => when(t.created_at) },
    ]} />` : html`<p class="hint">Only root lists every tenant. A tenant is created with its first user.</p>`}
    <${ErrorBox} error=${list.error} />
  </${Page}>`;
}
