import type { NodeTls } from '../../../protocol/tls/node-tls.js';
import type { PeerConfig } from '../../../config/peer-config.js';
import type { Startable } from '../../../contracts/startable.js';
import type { Logger } from '../../../logging/logger.js';
import { ManagerClient } from '../../../protocol/manager/manager-client.js';

/** This peer as the manager sees it. */
export interface DiscoveryHost {
  hostname: string;
  ip: string;
  idc: string;
  location: string;
  rpcPort: number;
  uploadPort: number;
}

export interface ManagerDiscoveryOptions {
  config: NonNullable<PeerConfig['manager']>;
  /** The static `peer.schedulers`, used while the manager cannot be reached. */
  fallback: string[];
  host: () => DiscoveryHost;
  /** Called with the scheduler list whenever it changes. */
  onSchedulers: (addresses: string[]) => void;
  /** Called with the cluster's client config (download concurrency, rate limit) whenever it changes. */
  onClientConfig?: (config: Record<string, unknown>) => void;
  logger: Logger;
  /** Deadline of one manager call, ms (default 5 000). */
  timeoutMs?: number;
  /** TLS of the node, for an https manager. */
  tls?: NodeTls;
}

/**
 * A peer's tie to the manager: asks for this peer's schedulers (clusters ranked by how well their
 * scopes match the peer's ip, hostname, idc and location) at start and every
 * `schedulerRefreshMs`, and hands a changed list to `onSchedulers`. A manager that cannot be
 * reached at start leaves the static list in use; later failures keep the last list (registration
 * and keepalive are the PeerManagerLink's). Never throws from its timers.
 */
export class ManagerDiscovery implements Startable {
  private readonly client: ManagerClient;
  private current: string[] = [];
  private lastClientConfig = '{}';
  private timers: NodeJS.Timeout[] = [];
  private failing = false;

  constructor(private readonly o: ManagerDiscoveryOptions) {
    this.client = new ManagerClient({ url: o.config.url, token: o.config.token, timeoutMs: o.timeoutMs ?? 5_000, tls: o.tls, ca: o.config.ca, caKey: 'peer.manager.ca' });
  }

  /** The schedulers in use: the manager's last answer, else the static fallback. */
  get schedulers(): string[] {
    return this.current.length ? this.current : this.o.fallback;
  }

  /** Where the list came from. */
  get origin(): 'manager' | 'static' {
    return this.current.length ? 'manager' : 'static';
  }

  /**
   * Asks the manager once; resolves to the list in use afterwards. Called before the scheduler
   * client exists, so the first list already comes from the manager when it answers.
   */
  async resolve(): Promise<string[]> {
    await this.refresh();
    return this.schedulers;
  }

  /** Starts the refresh timer. */
  async start(): Promise<void> {
    this.timers.push(setInterval(() => void this.refresh(), this.o.config.schedulerRefreshMs));
    for (const t of this.timers) t.unref();
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.client.close();
  }

  /** One scheduler query; a changed, non-empty answer is applied. Resolves whether the manager answered. */
  async refresh(): Promise<boolean> {
    const h = this.o.host();
    try {
      const r = await this.client.schedulersFor({ hostname: h.hostname, ip: h.ip, idc: h.idc || undefined, location: h.location || undefined });
      this.recovered();
      const clientConfig = JSON.stringify(r.client_config ?? {});
      if (clientConfig !== this.lastClientConfig) {
        this.lastClientConfig = clientConfig;
        this.o.onClientConfig?.(r.client_config ?? {});
      }
      const next = [...new Set(r.schedulers.map((s) => s.address))].sort();
      if (next.length === 0) {
        this.o.logger.warn({ manager: this.o.config.url, using: this.schedulers }, 'the manager knows no active scheduler for this peer; keeping the current schedulers');
        return true;
      }
      if (next.join(',') !== this.current.join(',')) {
        this.current = next;
        this.o.logger.info({ schedulers: next, cluster: r.clusters[0]?.name }, 'schedulers from the manager');
        this.o.onSchedulers(next);
      }
      return true;
    } catch (err) {
      this.fail(err);
      return false;
    }
  }

  private recovered(): void {
    if (this.failing) this.o.logger.info({ manager: this.o.config.url }, 'manager reachable again');
    this.failing = false;
  }

  private fail(err: unknown): void {
    if (this.failing) return;
    this.failing = true;
    this.o.logger.warn({ manager: this.o.config.url, err: (err as Error).message, using: this.schedulers, from: this.origin },
      'manager unreachable or refused this peer; keeping the schedulers in use and retrying');
  }
}
