/** The console's client of the manager's REST API (same origin), with the session token of sign-in. */
import type { JobView, PeerResultView } from '../core/protocol/manager/manager-views.js';

const TOKEN_KEY = 'd7y.session';

export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly fix?: string, readonly code?: string) {
    super(message);
  }
}

export function sessionToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setSessionToken(token: string | null): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

type Query = Record<string, string | number | boolean | undefined>;

/** One call to the manager; throws ApiError with the manager's message and fix. */
export async function api<T = unknown>(method: string, path: string, body?: unknown, query?: Query, token = sessionToken()): Promise<T> {
  const qs = query ? new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => [k, String(v)])).toString() : '';
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${path}${qs ? `?${qs}` : ''}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const json = text ? JSON.parse(text) as unknown : undefined;
  if (!res.ok) {
    const e = (json ?? {}) as { message?: string; fix?: string; code?: string };
    if (res.status === 401 && path !== '/api/v1/users/signin') window.dispatchEvent(new Event('d7y:signed-out'));
    throw new ApiError(res.status, e.message ?? `HTTP ${res.status}`, e.fix, e.code);
  }
  return json as T;
}

export type Job = JobView;
export type PeerResult = PeerResultView;

/** Creates a job and polls it until it ends (or `timeoutMs` passes); `onProgress` sees each state. */
export async function runJob(body: unknown, onProgress: (job: Job) => void, timeoutMs = 120_000): Promise<Job> {
  let job = await api<Job>('POST', '/api/v1/jobs', body);
  onProgress(job);
  const until = Date.now() + timeoutMs;
  while ((job.state === 'pending' || job.state === 'running') && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 500));
    job = await api<Job>('GET', `/api/v1/jobs/${job.id}`);
    onProgress(job);
  }
  return job;
}

/** Every per-peer result of a job, across its clusters. */
export function resultsOf(job: Job): PeerResult[] {
  return job.results ?? job.runs.flatMap((r) => r.results);
}
