import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, setSessionToken, sessionToken } from './api.js';
import { html } from './ui.js';
import { Tenants, Tokens, Users } from './pages/access.js';
import { AuditLog } from './pages/audit.js';
import { Clusters, Nodes } from './pages/clusters.js';
import { DashboardPage } from './pages/dashboard.js';
import { Experiments } from './pages/experiments.js';
import { Jobs } from './pages/jobs.js';
import { SignIn } from './pages/sign-in.js';
import { Tasks } from './pages/tasks.js';
import './style.css';

interface Me { id: string; name: string; role: string; tenant: string }

const NAV: [string, string][] = [
  ['dashboard', 'Dashboard'], ['clusters', 'Clusters'], ['nodes', 'Schedulers & peers'], ['tasks', 'Tasks'], ['jobs', 'Jobs'],
  ['experiments', 'Experiments'], ['audit', 'Audit log'], ['tokens', 'Tokens'], ['users', 'Users'], ['tenants', 'Tenants'],
];

function useHash(): string[] {
  const read = () => (location.hash.replace(/^#\/?/, '') || 'dashboard').split('/').map(decodeURIComponent);
  const [parts, setParts] = useState(read);
  useEffect(() => {
    const on = () => setParts(read());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return parts;
}

function Route({ parts, me }: { parts: string[]; me: Me }) {
  switch (parts[0]) {
    case 'clusters': return html`<${Clusters} />`;
    case 'nodes': return html`<${Nodes} />`;
    case 'tasks': return html`<${Tasks} />`;
    case 'jobs': return html`<${Jobs} />`;
    case 'experiments': return html`<${Experiments} id=${parts[1]} />`;
    case 'audit': return html`<${AuditLog} />`;
    case 'tokens': return html`<${Tokens} />`;
    case 'users': return html`<${Users} me=${me} />`;
    case 'tenants': return html`<${Tenants} me=${me} />`;
    default: return html`<${DashboardPage} />`;
  }
}

/** The console: sign-in, then the pages behind a navigation bar, routed by the URL's hash. */
function App() {
  const [me, setMe] = useState<Me | null | undefined>(sessionToken() ? undefined : null);
  const parts = useHash();
  const load = () => api<Me>('GET', '/api/v1/users/me').then(setMe, () => setMe(null));
  useEffect(() => {
    if (sessionToken()) void load();
    const out = () => { setSessionToken(null); setMe(null); };
    window.addEventListener('d7y:signed-out', out);
    return () => window.removeEventListener('d7y:signed-out', out);
  }, []);
  if (me === undefined) return html`<p class="loading">Loading…</p>`;
  if (me === null) return html`<${SignIn} onSignedIn=${load} />`;
  const signOut = async () => {
    await api('POST', '/api/v1/users/signout').catch(() => undefined);
    setSessionToken(null);
    setMe(null);
  };
  return html`<div class="shell">
    <nav>
      <div class="brand">d7y</div>
      ${NAV.map(([id, label]) => html`<a href=${`#/${id}`} class=${parts[0] === id || (!parts[0] && id === 'dashboard') ? 'active' : ''}>${label}</a>`)}
      <div class="me">${me.name} <small>(${me.role}, ${me.tenant})</small><button class="secondary" onClick=${signOut}>Sign out</button></div>
    </nav>
    <main><${Route} parts=${parts} me=${me} /></main>
  </div>`;
}

render(html`<${App} />`, document.getElementById('app')!);
