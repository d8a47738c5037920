import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import type { Agent } from 'undici';
import { LazyUndici, type UndiciModule } from '../../source-kit/lazy-undici.js';
import { activeNodeTls, environmentTlsConnect, type NodeTls } from '../tls/node-tls.js';
import { clientSideFailure } from '../tls/tls-failures.js';
import { D7yError, type D7yErrorCode } from '../../errors/d7y-error.js';
import type { JobView, ManagerCacheDeletion, ManagerCacheTaskView, PeerResultView } from './manager-views.js';

export type { JobView, ManagerCacheDeletion, ManagerCacheTaskView, PeerResultView } from './manager-views.js';

export interface ManagerClientOptions {
  /** `http://host:port` of a manager. */
  url: string;
  /** A personal access token (`/oapi/v1`) or a console session token (`/api/v1`). */
  token?: string;
  /** Per-request deadline in milliseconds (default 15 000). */
  timeoutMs?: number;
  /** Replaces the error of a call the manager refused with 401 (e.g. to say how to sign in again). */
  onUnauthenticated?: (err: D7yError) => D7yError;
  /** TLS of this node (security.tls) for an https manager: its CA, and its certificate in `mutual`. */
  tls?: NodeTls;
  /** A PEM file of CAs trusted for an https manager besides the system's and `tls`'s (a manager link's `ca`). */
  ca?: string;
  /** The config key of `ca` (`peer.manager.ca`): a manager certificate that no trusted CA signed is an error naming it. */
  caKey?: string;
}

export interface ClaimedJob {
  id: string;
  type: JobView['type'];
  args: Record<string, unknown>;
  timeout_ms: number;
}

export interface TokenView {
  id: string; name: string; prefix: string; scopes: string[]; state: 'active' | 'inactive';
  expires_at: string; created_at: string; last_used_at: string | null;
}

export interface AuditView {
  id: string; actor_type: string; actor_name: string; method: string; path: string; status: number; success: boolean;
  detail: Record<string, unknown>; created_at: string;
}

export interface SchedulerRegistration {
  id: string;
  cluster_id: string;
  keepalive_ttl_ms?: number;
  config?: Record<string, unknown>;
  client_config?: Record<string, unknown>;
}

export interface PeerSchedulers {
  schedulers: { id: string; hostname: string; ip: string; port: number; address: string }[];
  client_config: Record<string, unknown>;
  clusters: { id: string; name: string; score: number }[];
}

/** A persistent-cache task as a scheduler reports it (times in ms since the epoch). */
export interface ReportedCacheTask {
  id: string; name: string; tag: string; application: string; piece_length: number; content_length: number; piece_count: number;
  digest: string; state: string; persistent_replica_count: number; ttl_ms: number; created_at: number; updated_at: number;
  peers: { host_id: string; hostname: string; ip: string; port: number; download_port: number; type: 'normal' | 'super'; persistent: boolean; since: number }[];
}

const KNOWN_CODES = new Set<string>([
  'D7Y_INVALID_ARGUMENT', 'D7Y_UNAUTHENTICATED', 'D7Y_PERMISSION_DENIED', 'D7Y_NOT_FOUND', 'D7Y_CONFLICT', 'D7Y_RATE_LIMITED',
  'D7Y_SOURCE_UNSUPPORTED_SCHEME', 'D7Y_SOURCE_NOT_FOUND', 'D7Y_SOURCE_AUTH', 'D7Y_SOURCE_UNAVAILABLE', 'D7Y_SOURCE_ERROR',
  'D7Y_TIMEOUT', 'D7Y_INTERNAL', 'D7Y_CONFIG_INVALID',
]);

/**
 * A REST client of the manager API for the CLI, schedulers and peers. Failures are D7yErrors
 * carrying the manager's code, message and fix; an unreachable manager is `D7Y_INTERNAL` with a
 * fix naming the setting. The token is never part of an error message.
 */
/** A command as a scheduler or peer receives it from the command channel. */
export interface PushedCommandView {
  id: string;
  type: 'delete_task' | 'run_gc' | 'reload_config' | 'set_limits' | 'sync_copy';
  args: Record<string, unknown>;
}

export interface CommandView {
  id: string;
  target: 'scheduler' | 'peer';
  scheduler_id: string | null;
  peer_id: string | null;
  type: string;
  args: Record<string, unknown>;
  state: 'pending' | 'sent' | 'succeeded' | 'failed';
  result: Record<string, unknown> | null;
  error: string | null;
  created_by: string;
  created_at: string;
  updated_at: string;
}

/** What a peer reports of itself at every keepalive (bytes, and bytes/s over the last interval; a 0 limit is none). */
export interface PeerStatusReport {
  state: 'running' | 'draining';
  disk: { total: number; used: number; free: number };
  bandwidth: { upload_bps: number; download_bps: number; upload_limit: number; download_limit: number };
}

/** A peer or seed peer registering with the manager. */
export interface PeerRegistration {
  host_id: string;
  type: 'normal' | 'seed';
  cluster?: string;
  hostname: string;
  ip: string;
  idc?: string;
  location?: string;
  version: string;
  ports: { rpc: number; upload: number; piece_http?: number; proxy?: number; metrics?: number };
  status: PeerStatusReport;
}

export interface WebhookView {
  id: string;
  name: string;
  url: string;
  events: string[];
  created_by: string;
  created_at: string;
}

export interface WebhookDeliveryView {
  id: string;
  event: string;
  state: 'pending' | 'delivered' | 'failed';
  attempts: { at: string; status?: number; error?: string; duration_ms: number }[];
  last_status: number | null;
  next_attempt_at: string | null;
  payload: { id: string; event: string; created_at: string; data: Record<string, unknown> };
  created_at: string;
}

export class ManagerClient {
  private readonly base: string;
  /** Made (undici loaded) on the first call, and again after the node's TLS files change. */
  private readonly agent: LazyUndici<Agent>;
  private readonly tls?: NodeTls;
  private readonly timeoutMs: number;
  private readonly onUnauthenticated?: (err: D7yError) => D7yError;
  private readonly linkCa?: { file: string; pem: Buffer };
  private readonly caKey?: string;
  token?: string;

  constructor(opts: ManagerClientOptions) {
    if (!/^https?:\/\//.test(opts.url)) {
      throw new D7yError('D7Y_INVALID_ARGUMENT', `manager URL "${opts.url}" is not an http(s) URL`, { fix: 'give --manager http://host:port (or D7Y_MANAGER_URL)' });
    }
    this.base = opts.url.replace(/\/+$/, '');
    this.token = opts.token;
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.onUnauthenticated = opts.onUnauthenticated;
    this.tls = opts.tls;
    this.caKey = opts.caKey;
    if (opts.ca) this.linkCa = { file: opts.ca, pem: readLinkCa(opts.ca, opts.caKey ?? 'the manager link\'s ca') };
    this.agent = new LazyUndici((u) => this.makeAgent(u));
    opts.tls?.onChange(() => {
      void this.agent.reset()?.close().catch(() => undefined);
    });
  }

  private makeAgent(u: UndiciModule): Agent {
    const node = this.tls?.undiciConnect() ?? environmentTlsConnect();
    const ca = this.linkCa && [...(node ? [node.ca] : rootCertificates), this.linkCa.pem];
    return new u.Agent({ connections: 8, keepAliveTimeout: 10_000, connect: { timeout: 5_000, ...node, ...(ca && { ca }) } });
  }

  /** A handshake refused for want of a trusted CA, said with the link's `ca` option when the client has a key for it. */
  private untrustedManager(err: D7yError): D7yError {
    if (err.details?.tls !== 'untrusted' || !this.caKey) return err;
    const key = this.caKey;
    const by = this.linkCa ? `the CA in ${key} (${this.linkCa.file})${this.tls ? ` or ${this.tls.files.ca}` : ''}` : this.tls ? `the CA in ${this.tls.files.ca}` : 'a CA this node trusts';
    return new D7yError('D7Y_UNAUTHENTICATED', `manager ${this.base}: TLS handshake failed: the certificate the manager presented is not signed by ${by}`, {
      cause: err.cause, details: err.details,
      fix: `set ${key} to the PEM file of the CA that signed the manager's certificate (the ca.crt of d7y cert init), or give this node the manager's CA as security.tls.ca`,
    });
  }

  get url(): string {
    return this.base;
  }

  /** One API call; `path` starts with `/api/v1` or `/oapi/v1`. */
  async call<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown, query?: Record<string, string | number | boolean | undefined>,
    opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<T> {
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const signal = opts.signal ? AbortSignal.any([opts.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
    const qs = query ? new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)] as [string, string])).toString() : '';
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let res;
    try {
      res = await this.agent.request(`${this.base}${path}${qs ? `?${qs}` : ''}`, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
        headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal,
      });
    } catch (err) {
      const connect = this.tls?.undiciConnect() ?? environmentTlsConnect();
      const tls = clientSideFailure(err, `manager ${this.base}`, this.tls ?? activeNodeTls(), { tlsLink: this.base.startsWith('https:'), presentedCert: Boolean(connect?.cert) });
      if (tls) throw this.untrustedManager(tls);
      throw new D7yError('D7Y_INTERNAL', `manager ${this.base} unreachable: ${(err as Error).message}`, {
        cause: err, fix: 'check the manager URL (--manager or D7Y_MANAGER_URL) and that the manager is running',
      });
    }
    const text = await res.body.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (res.statusCode >= 400) {
      const e = (json ?? {}) as { code?: string; message?: string; fix?: string; details?: Record<string, unknown> };
      const code = (e.code && KNOWN_CODES.has(e.code) ? e.code : res.statusCode === 429 ? 'D7Y_RATE_LIMITED' : 'D7Y_INTERNAL') as D7yErrorCode;
      const err = new D7yError(code, `manager ${method} ${path}: ${e.message ?? `HTTP ${res.statusCode}`}`, {
        fix: e.fix, details: { ...e.details, status: res.statusCode },
      });
      throw res.statusCode === 401 && this.onUnauthenticated ? this.onUnauthenticated(err) : err;
    }
    return json as T;
  }

  async signIn(name: string, password: string): Promise<string> {
    return (await this.startSession(name, password)).token;
  }

  /** Signs in and keeps the session token for later calls. */
  async startSession(name: string, password: string): Promise<{ token: string; user: string; expires_at: string }> {
    const r = await this.call<{ token: string; user: string; expires_at: string }>('POST', '/api/v1/users/signin', { name, password });
    this.token = r.token;
    return r;
  }

  /** Ends the session this client signed in with (or was given). */
  signOut(): Promise<{ signed_out: boolean }> {
    return this.call('POST', '/api/v1/users/signout');
  }

  /** The signed-in user. */
  me(): Promise<{ id: string; name: string; role: 'root' | 'user'; tenant: string }> {
    return this.call('GET', '/api/v1/users/me');
  }

  /** Changes the caller's password (`old_password` required), or, as root, another `user`'s. */
  changePassword(req: { user?: string; old_password?: string; new_password: string }): Promise<{ user: string; sessions_ended: number; warning?: string }> {
    return this.call('PUT', '/api/v1/users/password', req);
  }

  /** Jobs go through the console API with a session token, through the open API with a personal access token. */
  private get jobsPath(): string {
    return this.token?.startsWith('d7ys.') ? '/api/v1/jobs' : '/oapi/v1/jobs';
  }

  createToken(req: { name: string; scopes?: string[]; expires_in_days?: number }): Promise<TokenView & { token: string }> {
    return this.call('POST', '/api/v1/personal-access-tokens', req);
  }

  listTokens(): Promise<TokenView[]> {
    return this.call('GET', '/api/v1/personal-access-tokens');
  }

  revokeToken(id: string): Promise<{ id: string; revoked: boolean }> {
    return this.call('DELETE', `/api/v1/personal-access-tokens/${encodeURIComponent(id)}`);
  }

  listAudits(filter: Record<string, string | number | undefined> = {}): Promise<AuditView[]> {
    return this.call('GET', '/api/v1/audits', undefined, filter);
  }

  createJob(req: { type: JobView['type']; args: Record<string, unknown>; scheduler_cluster_ids?: string[] }): Promise<JobView> {
    return this.call('POST', this.jobsPath, req);
  }

  getJob(id: string): Promise<JobView> {
    return this.call('GET', `${this.jobsPath}/${encodeURIComponent(id)}`);
  }

  listJobs(query: { type?: string; limit?: number } = {}): Promise<JobView[]> {
    return this.call('GET', this.jobsPath, undefined, query);
  }

  registerScheduler(req: { cluster: string; hostname: string; ip: string; port: number; idc?: string; location?: string }): Promise<SchedulerRegistration> {
    return this.call('POST', '/oapi/v1/schedulers', req);
  }

  keepAliveScheduler(id: string): Promise<SchedulerRegistration> {
    return this.call('POST', `/oapi/v1/schedulers/${encodeURIComponent(id)}/keepalive`);
  }

  registerSeedPeer(req: { cluster: string; hostname: string; ip: string; rpc_port: number; upload_port?: number; idc?: string; location?: string }): Promise<SchedulerRegistration> {
    return this.call('POST', '/oapi/v1/seed-peers', req);
  }

  keepAliveSeedPeer(id: string): Promise<{ id: string }> {
    return this.call('POST', `/oapi/v1/seed-peers/${encodeURIComponent(id)}/keepalive`);
  }

  schedulersFor(peer: { hostname?: string; ip?: string; idc?: string; location?: string }): Promise<PeerSchedulers> {
    return this.call('GET', '/oapi/v1/peers/schedulers', undefined, peer);
  }

  claimJob(schedulerId: string): Promise<{ job: ClaimedJob | null }> {
    return this.call('POST', `/oapi/v1/schedulers/${encodeURIComponent(schedulerId)}/jobs/claim`);
  }

  reportJob(jobId: string, report: { scheduler_id: string; state: 'running' | 'succeeded' | 'failed'; results: PeerResultView[]; error?: string }): Promise<JobView> {
    return this.call('PUT', `/oapi/v1/jobs/${encodeURIComponent(jobId)}/result`, report);
  }

  /** Ended downloads a scheduler saw (the manager's dashboard and experiment reports read them). */
  reportDownloads(schedulerId: string, downloads: readonly object[]): Promise<{ accepted: number }> {
    return this.call('POST', `/oapi/v1/schedulers/${encodeURIComponent(schedulerId)}/downloads`, { downloads });
  }

  /** Persistent-cache tasks go through the console API with a session token, through the open API with a personal access token. */
  private get cacheTasksPath(): string {
    return this.token?.startsWith('d7ys.') ? '/api/v1/persistent-cache-tasks' : '/oapi/v1/persistent-cache-tasks';
  }

  listCacheTasks(query: { scheduler_cluster_id?: string; page?: number; per_page?: number } = {}): Promise<ManagerCacheTaskView[]> {
    return this.call('GET', this.cacheTasksPath, undefined, query);
  }

  getCacheTask(id: string): Promise<ManagerCacheTaskView> {
    return this.call('GET', `${this.cacheTasksPath}/${encodeURIComponent(id)}`);
  }

  deleteCacheTask(id: string): Promise<ManagerCacheDeletion> {
    return this.call('DELETE', `${this.cacheTasksPath}/${encodeURIComponent(id)}`);
  }

  /** A scheduler's report of its persistent-cache tasks (none: unchanged); the answer names the tasks to delete. */
  reportCacheTasks(schedulerId: string, tasks: ReportedCacheTask[] | undefined): Promise<{ delete_task_ids: string[] }> {
    return this.call('PUT', `/oapi/v1/schedulers/${encodeURIComponent(schedulerId)}/persistent-cache-tasks`, tasks ? { tasks } : {});
  }

  /** Holds until commands for the scheduler are pending (or `waitMs` passes); `signal` ends the wait. */
  waitCommands(schedulerId: string, waitMs: number, signal?: AbortSignal): Promise<{ commands: PushedCommandView[] }> {
    return this.call('POST', `/oapi/v1/schedulers/${encodeURIComponent(schedulerId)}/commands/wait`, undefined, { timeout_ms: waitMs }, { signal, timeoutMs: waitMs + 10_000 });
  }

  /** Holds until commands for the peer are pending (or `waitMs` passes); `signal` ends the wait. */
  waitPeerCommands(peerId: string, waitMs: number, signal?: AbortSignal): Promise<{ commands: PushedCommandView[] }> {
    return this.call('POST', `/oapi/v1/peers/${encodeURIComponent(peerId)}/commands/wait`, undefined, { timeout_ms: waitMs }, { signal, timeoutMs: waitMs + 10_000 });
  }

  registerPeer(req: PeerRegistration): Promise<{ id: string; cluster_id: string | null; keepalive_ttl_ms: number }> {
    return this.call('POST', '/oapi/v1/peers', req);
  }

  keepAlivePeer(id: string, status: PeerStatusReport): Promise<{ id: string }> {
    return this.call('POST', `/oapi/v1/peers/${encodeURIComponent(id)}/keepalive`, { status });
  }

  ackCommand(id: string, ack: { scheduler_id?: string; peer_id?: string; state: 'succeeded' | 'failed'; result?: Record<string, unknown>; error?: string }): Promise<CommandView> {
    return this.call('PUT', `/oapi/v1/commands/${encodeURIComponent(id)}/result`, ack);
  }

  createCommand(req: { type: string; args?: Record<string, unknown>; scheduler_ids?: string[]; scheduler_cluster_ids?: string[]; peer_ids?: string[] }): Promise<CommandView[]> {
    return this.call('POST', '/oapi/v1/commands', req);
  }

  getCommand(id: string): Promise<CommandView> {
    return this.call('GET', `/oapi/v1/commands/${encodeURIComponent(id)}`);
  }

  createWebhook(req: { name?: string; url: string; events: string[]; secret?: string }): Promise<WebhookView & { secret: string }> {
    return this.call('POST', '/oapi/v1/webhooks', req);
  }

  listWebhooks(): Promise<WebhookView[]> {
    return this.call('GET', '/oapi/v1/webhooks');
  }

  deleteWebhook(id: string): Promise<{ id: string; deleted: boolean }> {
    return this.call('DELETE', `/oapi/v1/webhooks/${encodeURIComponent(id)}`);
  }

  webhookDeliveries(id: string, query: { state?: string; limit?: number } = {}): Promise<WebhookDeliveryView[]> {
    return this.call('GET', `/oapi/v1/webhooks/${encodeURIComponent(id)}/deliveries`, undefined, query);
  }

  /** Closes the connections; idempotent. */
  async close(): Promise<void> {
    const agent = this.agent.current;
    if (agent && !agent.closed && !agent.destroyed) await agent.close();
  }
}

function readLinkCa(file: string, key: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new D7yError('D7Y_CONFIG_INVALID', `cannot read ${key} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      cause: err, fix: `point ${key} at the manager's CA certificate (a PEM file readable by the user running d7y)`,
    });
  }
}
