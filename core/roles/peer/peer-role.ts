import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import { ensurePrivateDir } from '../../config/private-dir.js';
import { inject, injectable } from '../../di.js';
import type { NodeConfig } from '../../config/node-config.js';
import { peerDataDir, peerSocketPath, type PeerConfig } from '../../config/peer-config.js';
import { D7yError } from '../../errors/d7y-error.js';
import type { Logger } from '../../logging/logger.js';
import { DfdaemonUploadClient } from '../../protocol/rpc/dfdaemon-upload-client.js';
import { controlKeyOf, type ClusterAuth } from '../../protocol/auth/cluster-auth.js';
import { loadClusterAuth, loadHostIdentity } from '../../protocol/auth/cluster-secrets.js';
import { GrpcAuthGuard, guardService, type GrpcClientAuth } from '../../protocol/auth/grpc-auth.js';
import { RefusalLog } from '../../protocol/auth/refusal-log.js';
import { NodeTls } from '../../protocol/tls/node-tls.js';
import { HostType, type Host } from '../../protocol/rpc/gen/common.js';
import { SchedulerClient } from '../../protocol/rpc/scheduler-client.js';
import { VortexClient, VortexServer } from '../../protocol/vortex/index.js';
import type { SourceRouter } from '../../registry/source-router.js';
import type { StorageRegistry } from '../../registry/storage-registry.js';
import { crc32Backend } from '../../task/piece-digest.js';
import { Tokens } from '../../tokens.js';
import { Lifecycle } from '../lifecycle.js';
import { managerToken } from '../../config/manager-link-config.js';
import { MetricsServer } from '../common/metrics-server.js';
import { PeerMetrics } from './peer-metrics.js';
import type { Role } from '../role.js';
import { DfdaemonService } from './api/dfdaemon-service.js';
import { HeldTaskAnnouncer } from './cluster/held-task-announcer.js';
import { HostAnnouncer } from './cluster/host-announcer.js';
import { LocalApiServer } from './api/local-api-server.js';
import { ManagerDiscovery } from './cluster/manager-discovery.js';
import { PeerManagerLink } from './cluster/peer-manager-link.js';
import { peerCommandRunner } from './cluster/peer-commands.js';
import { packageVersion } from '../../config/package-version.js';
import type { PeerStatusReport } from '../../protocol/manager/manager-client.js';
import { PieceHttpServer } from './upload/piece-http-server.js';
import { ProxyServer } from './proxy/proxy-server.js';
import { ProxyCa } from './proxy/proxy-ca.js';
import { createConnectHandler } from './proxy/connect-handler.js';
import { DownloadService } from './download/download-service.js';
import { TaskDownloader } from './download/task-downloader.js';
import { TaskCatalog } from './tasks/task-catalog.js';
import { DataDirLock } from './tasks/data-dir-lock.js';
import { InProcessPeerApi } from './api/in-process-api.js';
import type { PeerApi } from '../../protocol/local-api/peer-api.js';
import { TaskMediumRouter } from './tasks/task-medium-router.js';
import { TokenBucket } from './token-bucket.js';
import { SeedOffers } from './upload/seed-offers.js';
import { UploadPieceProvider } from './upload/upload-piece-provider.js';
import { UploadSlots } from './upload/upload-slots.js';
import { UploadStats } from './upload/upload-stats.js';
import { PeerPersistentCache } from './cache/peer-persistent-cache.js';
import { CachePieceProvider } from './cache/cache-piece-provider.js';
import { cacheDfdaemonService } from './cache/cache-dfdaemon-service.js';
import { cacheLocalRoutes } from './cache/cache-local-routes.js';
import { PersistentCacheSchedulerClient } from '../../protocol/rpc/persistent-cache-clients.js';
import { DfdaemonPersistentCacheService } from '../../protocol/rpc/gen/dfdaemon-persistent-cache.js';
import type { CacheApi } from '../../protocol/local-api/cache-api.js';
import { nativeAddon } from '../../native/native-addon.js';

/**
 * The daemon on every host: downloads tasks piece by piece from other peers (or the origin),
 * serves the pieces it holds (Vortex, HTTP piece GET, dfdaemon gRPC) and answers the local API
 * on a unix socket. Everything per instance (folder, ports, socket) comes from `config.peer`,
 * so a seed peer and a peer can run in one process.
 */
@injectable()
export class PeerRole implements Role {
  readonly name = 'peer' as const;
  private readonly cfg: PeerConfig;
  private readonly lifecycle = new Lifecycle();
  private readonly uploadStats = new UploadStats();
  private medium?: TaskMediumRouter;
  private vortexServer?: VortexServer;
  private rpc?: DfdaemonService;
  private pieceHttp?: PieceHttpServer;
  private vortex?: VortexClient;
  private dfdaemon?: DfdaemonUploadClient;
  private scheduler?: SchedulerClient;
  private catalog?: TaskCatalog;
  private lock?: DataDirLock;
  private engine?: TaskDownloader;
  private service?: DownloadService;
  private proxy?: ProxyServer;
  private discovery?: ManagerDiscovery;
  private link?: PeerManagerLink;
  private uploadLimiter?: TokenBucket;
  private draining = false;
  private lastTraffic = { at: Date.now(), sent: 0, written: 0 };
  private announcer?: HostAnnouncer;
  private lateAnnouncer?: HostAnnouncer;
  private heldTasks?: HeldTaskAnnouncer;
  private auth?: ClusterAuth;
  private clientAuth?: GrpcClientAuth;
  private tls?: NodeTls;
  private cache?: PeerPersistentCache;
  private providers: UploadPieceProvider[] = [];
  private readonly metrics?: PeerMetrics;
  /** The small HTTP listener serving `/metrics`, `/healthz` and `/readyz` (peer.metrics); other routes may be added before start. */
  readonly metricsServer: MetricsServer;

  constructor(
    @inject(Tokens.Config) private readonly config: NodeConfig,
    @inject(Tokens.Logger) private readonly logger: Logger,
    @inject(Tokens.SourceRouter) private readonly sources: SourceRouter,
    @inject(Tokens.StorageRegistry) private readonly storage: StorageRegistry,
    @inject(Tokens.Metrics) registry: Registry,
  ) {
    this.cfg = config.peer;
    const metrics = new PeerMetrics(registry);
    // With the listener off nobody reads the counters: the download and upload paths count nothing.
    this.metrics = this.cfg.metrics.enabled ? metrics : undefined;
    if (this.metrics) {
      this.uploadStats.onEnd = (ok, bytes) => {
        metrics.uploadPieces.inc({ result: ok ? 'succeeded' : 'failed' });
        if (bytes > 0) metrics.uploadBytes.inc(bytes);
      };
    }
    this.metricsServer = new MetricsServer({
      config: this.cfg.metrics, registry, logger, configPath: 'peer.metrics', role: this.cfg.seed ? 'seed peer' : 'peer',
    });
    this.metricsServer.readiness('scheduler', () => this.schedulerReadiness());
  }

  /** `{ip}-{hostname}`, with `-seed` for seed peers. */
  get hostId(): string {
    return `${this.cfg.host.ip}-${this.cfg.host.hostname}${this.cfg.seed ? '-seed' : ''}`;
  }

  get socketPath(): string {
    return peerSocketPath(this.config.dataDir, this.cfg);
  }

  /**
   * The local API's operations answered in this process (for a peer embedded in another
   * program); `close()` on it stops the peer through `stopAll`.
   */
  api(stopAll: () => Promise<void>): PeerApi {
    if (!this.service || !this.catalog) {
      throw new D7yError('D7Y_INTERNAL', 'the peer is not started', { fix: 'start the peer before asking for its API' });
    }
    return new InProcessPeerApi(this.service, this.catalog, () => this.describe(), stopAll);
  }

  /** The peer's persistent cache (import, export, stat, remove, list), for a peer embedded in another program. */
  cacheApi(): CacheApi {
    if (!this.cache) throw new D7yError('D7Y_INTERNAL', 'the peer is not started', { fix: 'start the peer before asking for its cache' });
    return this.cache;
  }

  /**
   * The cluster's client config from the manager, applied without a restart: download concurrency
   * (for downloads that start from now on) and the download rate limit (at once). Out-of-range values
   * are ignored.
   */
  applyClientConfig(config: Record<string, unknown>): void {
    const download = (config.download ?? {}) as { concurrency?: unknown; rateLimit?: unknown };
    const applied: Record<string, number> = {};
    if (typeof download.concurrency === 'number' && Number.isInteger(download.concurrency) && download.concurrency >= 1 && download.concurrency <= 16) {
      this.cfg.download.concurrency = download.concurrency;
      applied.concurrency = download.concurrency;
    }
    if (typeof download.rateLimit === 'number' && Number.isInteger(download.rateLimit) && download.rateLimit >= 0) {
      this.cfg.download.rateLimit = download.rateLimit;
      this.engine?.downloadLimiter.setRate(download.rateLimit);
      applied.rateLimit = download.rateLimit;
    }
    if (Object.keys(applied).length) this.logger.info(applied, 'dynamic config from the manager applied');
  }

  describe(): Record<string, unknown> {
    return {
      hostId: this.hostId,
      seed: this.cfg.seed,
      socket: this.cfg.localApi ? this.socketPath : undefined,
      dataDir: peerDataDir(this.config.dataDir, this.cfg),
      uploadPort: this.vortexServer?.port ?? this.cfg.upload.port,
      rpcPort: this.rpc?.port ?? this.cfg.rpc.port,
      pieceHttpPort: this.pieceHttp?.port ?? this.cfg.pieceHttp.port,
      proxy: this.cfg.proxy.enabled ? `${this.cfg.proxy.listen.ip}:${this.proxy?.port ?? this.cfg.proxy.listen.port}` : undefined,
      schedulers: this.scheduler?.addresses ?? this.cfg.schedulers,
      schedulersFrom: this.discovery?.origin ?? 'static',
      schemes: this.sources.schemes(),
      storage: this.cfg.storage.medium,
      crc32: crc32Backend(),
      sendfile: this.nativeState('upload.sendfile', this.cfg.upload.sendfile),
      nativeReads: this.nativeState('download.nativeReads', this.cfg.download.nativeReads),
      download: { concurrency: this.cfg.download.concurrency, rateLimit: this.cfg.download.rateLimit },
      clusterCredential: this.auth ? 'required' : 'none (open)',
      metrics: this.metricsServer.url ? `${this.metricsServer.url}/metrics` : 'off',
      tls: this.tls?.mode ?? 'none',
    };
  }

  /** Whether a use of the native addon is on (`upload.sendfile`, `download.nativeReads`), and if not, why. */
  private nativeState(key: 'upload.sendfile' | 'download.nativeReads', on: boolean): string {
    if (!on) return `off (${key} is false)`;
    if (this.tls) return 'off (TLS: bytes pass through JavaScript)';
    const { why } = nativeAddon();
    return why ? `off (${why})` : 'on';
  }

  async start(): Promise<void> {
    const cfg = this.cfg;
    const linkToken = cfg.manager && await managerToken(cfg.manager);
    const medium = new TaskMediumRouter(this.storage.get(cfg.storage.medium), this.storage, this.logger);
    this.medium = medium;
    this.metrics?.observe(() => medium.stats());
    const dir = peerDataDir(this.config.dataDir, cfg);
    await ensurePrivateDir(dir);
    this.lock = new DataDirLock(dir);
    await this.lock.acquire();
    try {
      await medium.start();
    } catch (err) {
      await this.lock.release();
      throw err;
    }
    const tls = await NodeTls.load(this.config.security.tls, { logger: this.logger, serves: true });
    this.tls = tls;
    const auth = await loadClusterAuth(this.config.security, {
      seedRole: cfg.seed, role: cfg.seed ? 'seed peer' : 'peer', logger: this.logger,
      quiet: !cfg.localApi || (cfg.schedulers.length === 0 && !cfg.manager),
      manager: { link: cfg.manager, key: 'peer.manager', cacheFile: join(dir, 'manager-credential.json'), tls },
    });
    this.auth = auth;
    const hostIdentity = auth && await loadHostIdentity(dir);
    this.clientAuth = auth && { auth, hostIdentity };
    this.vortex = new VortexClient({
      connectTimeoutMs: 5_000, readTimeoutMs: cfg.download.pieceTimeoutMs, auth, tls, nativeReads: cfg.download.nativeReads ? nativeAddon().addon : undefined,
    });
    // Calls to other peers carry membership only: the host identity goes to schedulers, never to a parent.
    this.dfdaemon = new DfdaemonUploadClient({ auth: auth && { auth }, tls });
    let engine: TaskDownloader | undefined;
    if (cfg.manager) {
      this.discovery = new ManagerDiscovery({
        config: { ...cfg.manager, token: linkToken }, fallback: cfg.schedulers, logger: this.logger, tls,
        host: () => ({ ...cfg.host, rpcPort: this.rpc?.port ?? 0, uploadPort: this.vortexServer?.port ?? 0 }),
        onSchedulers: (addresses) => { if (engine) this.useSchedulers(addresses, engine); },
        onClientConfig: (c) => this.applyClientConfig(c),
      });
    }
    const addresses = this.discovery ? await this.discovery.resolve() : cfg.schedulers;
    this.scheduler = addresses.length ? new SchedulerClient({ addresses, auth: this.clientAuth, tls: this.tls }) : undefined;
    const tasks = new TaskCatalog(medium, this.logger);
    this.catalog = tasks;
    engine = new TaskDownloader({
      config: cfg, catalog: tasks, sources: this.sources, scheduler: this.scheduler, vortex: this.vortex, dfdaemon: this.dfdaemon,
      logger: this.logger, hostId: this.hostId, peerIdPrefix: `${cfg.host.ip}-${cfg.host.hostname}`, metrics: this.metrics,
      placeTask: (taskId, name) => medium.place(taskId, name),
      announceHost: async () => (this.announcer ? this.announcer.announce() : false),
    });
    this.engine = engine;
    const downloads = new DownloadService(tasks, engine, this.sources, this.logger, this.metrics);
    this.service = downloads;
    const offers = cfg.seed && cfg.upload.superSeed.enabled
      ? new SeedOffers({ inFlight: cfg.upload.superSeed.inFlight, grantTtlMs: cfg.upload.superSeed.offerTtlMs })
      : undefined;
    const limiter = new TokenBucket(cfg.upload.rateLimit);
    this.uploadLimiter = limiter;
    const slots = new UploadSlots(cfg.upload.concurrentPieces);
    // Children over Vortex share a piece at most childrenPerPiece at once (a seed's super-seeding
    // already offers each piece to one child); the HTTP piece endpoint, for tools, is not limited.
    const stall = { slotReleaseMs: cfg.upload.stalledSlotRelease, cutMs: cfg.upload.writeTimeout };
    const provider = new UploadPieceProvider(tasks, medium, limiter, this.uploadStats, () => this.hostId, offers, slots,
      cfg.seed ? 0 : cfg.upload.childrenPerPiece, stall);
    const toolProvider = new UploadPieceProvider(tasks, medium, limiter, this.uploadStats, () => this.hostId, offers, slots, 0, stall);
    this.providers = [provider, toolProvider];
    const cache = new PeerPersistentCache({
      config: cfg, dir, catalog: tasks, vortex: this.vortex, logger: this.logger, hostId: () => this.hostId,
      scheduler: new PersistentCacheSchedulerClient(() => this.scheduler, undefined, this.clientAuth, tls),
    });
    this.cache = cache;
    this.vortexServer = new VortexServer({
      host: cfg.host.ip, port: cfg.upload.port, provider: new CachePieceProvider(provider, (id) => cache.isCacheTask(id)),
      logger: this.logger, maxConnections: cfg.upload.maxConnections, auth, tls, kinds: ['standard', 'persistent-cache'],
      writeTimeoutMs: cfg.upload.writeTimeout, sendFile: cfg.upload.sendfile ? nativeAddon().addon : undefined,
    });
    this.pieceHttp = new PieceHttpServer({
      host: cfg.host.ip, port: cfg.pieceHttp.port, provider: toolProvider, auth, tls, refusals: new RefusalLog(this.logger, 'piece http'),
    });
    const guard = new GrpcAuthGuard(auth, this.logger, 'the peer', hostIdentity ? controlKeyOf(hostIdentity) : undefined);
    const controlLevel = cfg.seed ? 'seed' : 'control';
    this.rpc = new DfdaemonService({
      host: cfg.host.ip, port: cfg.rpc.port, catalog: tasks, downloads, logger: this.logger, hostId: this.hostId, peerId: () => this.hostId, offers,
      guard, controlLevel, maxReceiveMessageSize: cfg.rpc.maxReceiveMessageSize, tls,
      extraServices: [{ definition: DfdaemonPersistentCacheService, implementation: guardService(cacheDfdaemonService(cache), guard, controlLevel) }],
    });
    this.lifecycle.add(this.vortexServer);
    this.lifecycle.add(this.pieceHttp);
    this.lifecycle.add(this.rpc);
    if (cfg.localApi) this.lifecycle.add(new LocalApiServer({
      socketPath: this.socketPath, catalog: tasks, downloads, logger: this.logger, describe: () => this.describe(),
      mediumOf: (taskId) => medium.mediumOf(taskId), extraRoutes: cacheLocalRoutes(cache, this.logger),
    }));
    if (cfg.proxy.enabled) {
      const hijack = cfg.proxy.hijackHttps.hosts.map((h) => new RegExp(h));
      const ca = hijack.length
        ? await ProxyCa.load({ dir, certFile: cfg.proxy.hijackHttps.caCert, keyFile: cfg.proxy.hijackHttps.caKey, logger: this.logger })
        : undefined;
      this.proxy = new ProxyServer({
        config: cfg.proxy, downloads, logger: this.logger, metrics: this.metrics, tls,
        originTls: this.sources.has('https') ? this.sources.resolve('https://').originTls : undefined,
        connect: (onRequest) => createConnectHandler({
          hijack: (host) => hijack.some((re) => re.test(host)), ca, onRequest, logger: this.logger,
          connectTimeoutMs: 10_000, idleTimeoutMs: cfg.proxy.idleTimeout,
        }),
      });
      this.lifecycle.add(this.proxy);
    }
    this.heldTasks = new HeldTaskAnnouncer({
      catalog: tasks, scheduler: () => this.scheduler, hostId: this.hostId, batchSize: cfg.heldTasks.batchSize, logger: this.logger,
      peerId: `${cfg.host.ip}-${cfg.host.hostname}-held${cfg.seed ? '-seed' : ''}`,
    });
    if (this.scheduler) {
      this.announcer = this.hostAnnouncer(this.scheduler);
      this.lifecycle.add(this.announcer);
    }
    if (this.discovery) this.lifecycle.add(this.discovery);
    // A daemon (local API on) registers; a peer embedded in a program (a daemonless get) does not.
    if (cfg.manager && cfg.localApi) {
      this.link = new PeerManagerLink({
        url: cfg.manager.url, token: linkToken, tls, keepaliveIntervalMs: cfg.manager.keepaliveIntervalMs, logger: this.logger,
        registration: () => this.registration(), status: () => this.status(dir),
        onCommand: peerCommandRunner({
          deleteTask: (id) => downloads.delete(id),
          gc: async () => {
            const r = await medium.gc();
            return { evicted: r.evicted.length, bytes: r.evicted.reduce((n, e) => n + e.bytes, 0) };
          },
          reloadConfig: async () => ({ refreshed: await this.discovery!.refresh(), download: { ...(this.describe().download as object) } }),
          upload: limiter, download: engine.downloadLimiter,
          onLimits: (l) => {
            if (l.upload !== undefined) cfg.upload.rateLimit = l.upload;
            if (l.download !== undefined) cfg.download.rateLimit = l.download;
          },
          api: () => this.api(async () => undefined), sources: this.sources, dataDir: dir, logger: this.logger,
        }),
      });
      this.lifecycle.add(this.link);
    }
    this.lifecycle.add(this.heldTasks);
    this.lifecycle.add(cache);
    this.lifecycle.add(this.metricsServer);
    try {
      await this.lifecycle.start();
    } catch (err) {
      await this.closeClients();
      await medium.stop();
      await this.lock.release();
      throw err;
    }
    // describe() loads the crc32 implementation now, not on the first piece: a download's first
    // pieces (on a host where many start at once) do not wait for the addon to load.
    this.logger.info(this.describe(), 'peer started');
  }

  /**
   * Before a stop (SIGTERM): `/readyz` turns 503, the host leaves its schedulers (no new children
   * are sent here), the piece servers take no new connections and refuse new piece requests as
   * busy (children ask another holder), and the uploads in flight get up to `peer.drainTimeout` to
   * finish. Resolves with the uploads still running when it gave up (0 when every one finished).
   */
  async drain(): Promise<{ unfinished: number; waitedMs: number }> {
    const began = Date.now();
    this.draining = true;
    this.metricsServer.drain();
    for (const p of this.providers) p.refuseNew();
    this.vortexServer?.stopAccepting();
    this.pieceHttp?.stopAccepting();
    await Promise.all([this.announcer?.stop(), this.lateAnnouncer?.stop()]).catch(() => undefined);
    const deadline = began + this.cfg.drainTimeout;
    while (this.uploadStats.concurrent > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const result = { unfinished: this.uploadStats.concurrent, waitedMs: Date.now() - began };
    if (result.unfinished) this.logger.warn(result, 'peer drained: uploads still running after peer.drainTimeout are cut');
    else this.logger.info(result, 'peer drained: no upload in flight');
    return result;
  }

  async stop(): Promise<void> {
    await this.lateAnnouncer?.stop().catch(() => undefined);
    await this.lifecycle.stop().catch((err: unknown) => this.logger.warn({ err: String(err) }, 'peer: some servers failed to stop'));
    await this.closeClients();
    await this.medium?.stop();
    await this.lock?.release();
    this.logger.info('peer stopped');
  }

  /**
   * The manager named other schedulers: later downloads use them (open ones carry on), this host
   * is announced to them at once, then the tasks it holds (a task's scheduler may have changed).
   * Without a scheduler client yet, one is created now.
   */
  private useSchedulers(addresses: string[], engine: TaskDownloader): void {
    if (!this.scheduler) {
      this.scheduler = new SchedulerClient({ addresses, auth: this.clientAuth, tls: this.tls });
      engine.scheduler = this.scheduler;
      this.announcer = this.hostAnnouncer(this.scheduler);
      this.lateAnnouncer = this.announcer;
      void this.announcer.start().then(() => this.heldTasks?.announce());
    } else if (this.scheduler.setAddresses(addresses)) {
      void this.announcer?.announce().then(() => this.heldTasks?.announce());
    }
  }

  /** Ready when a scheduler took this host's announce within three announce intervals (or when the peer has no scheduler to join). */
  private schedulerReadiness(): { ok: boolean; detail?: string } {
    if (!this.announcer) {
      return this.discovery ? { ok: false, detail: 'the manager has named no scheduler yet' } : { ok: true, detail: 'no scheduler configured' };
    }
    const at = this.announcer.lastTakenAt;
    if (at === undefined) return { ok: false, detail: 'no scheduler has taken this host\'s announce yet' };
    const age = Date.now() - at;
    if (age > 3 * this.cfg.announceIntervalMs) return { ok: false, detail: `no scheduler has taken this host's announce for ${Math.round(age / 1000)} s` };
    return { ok: true, detail: `announced ${Math.round(age / 1000)} s ago` };
  }

  /** Announces this host; a scheduler that did not know it (restarted) is told the held tasks. */
  private hostAnnouncer(scheduler: SchedulerClient): HostAnnouncer {
    return new HostAnnouncer(scheduler, () => this.host(), this.cfg.announceIntervalMs, this.logger,
      (fresh) => this.heldTasks?.announce(fresh));
  }

  private host(): Host {
    const cfg = this.cfg;
    return {
      id: this.hostId, ip: cfg.host.ip, hostname: cfg.host.hostname, type: cfg.seed ? HostType.HOST_TYPE_SUPER : HostType.HOST_TYPE_NORMAL,
      idc: cfg.host.idc, location: cfg.host.location, uploadPort: this.vortexServer?.port ?? 0, rpcPort: this.rpc?.port ?? 0,
      maxTxBps: cfg.upload.rateLimit || cfg.upload.maxBandwidth, txBps60s: this.uploadStats.txBps60s(),
      concurrentUploads: this.uploadStats.concurrent, uploadLimit: cfg.seed ? 2000 : 200,
      uploadSuccessCount: this.uploadStats.successCount, uploadFailedCount: this.uploadStats.failedCount, announcedAt: Date.now(),
    };
  }

  /** This peer as it registers with the manager. */
  private registration() {
    const cfg = this.cfg;
    return {
      host_id: this.hostId, type: cfg.seed ? 'seed' as const : 'normal' as const, cluster: cfg.manager?.cluster,
      hostname: cfg.host.hostname, ip: cfg.host.ip, idc: cfg.host.idc, location: cfg.host.location, version: packageVersion(),
      ports: {
        rpc: this.rpc?.port ?? 0, upload: this.vortexServer?.port ?? 0, piece_http: this.pieceHttp?.port,
        proxy: cfg.proxy.enabled ? this.proxy?.port : undefined, metrics: this.metricsServer.port,
      },
    };
  }

  /** State, disk of the data dir's file system, and bandwidth used (bytes/s since the last report) with the limits. */
  private async status(dir: string): Promise<PeerStatusReport> {
    const fs = await statfs(dir);
    const total = fs.blocks * fs.bsize;
    const now = { at: Date.now(), sent: this.uploadStats.sentBytes, written: this.medium?.writtenBytes ?? 0 };
    const seconds = Math.max(0.001, (now.at - this.lastTraffic.at) / 1000);
    const perSecond = (n: number) => Math.max(0, Math.round(n / seconds));
    const bandwidth = {
      upload_bps: perSecond(now.sent - this.lastTraffic.sent), download_bps: perSecond(now.written - this.lastTraffic.written),
      upload_limit: this.uploadLimiter?.rate ?? this.cfg.upload.rateLimit, download_limit: this.engine?.downloadLimiter.rate ?? this.cfg.download.rateLimit,
    };
    this.lastTraffic = now;
    return {
      state: this.draining ? 'draining' : 'running',
      disk: { total, used: total - fs.bfree * fs.bsize, free: fs.bavail * fs.bsize },
      bandwidth,
    };
  }

  private async closeClients(): Promise<void> {
    await this.discovery?.stop();
    this.scheduler?.close();
    this.dfdaemon?.close();
    await this.vortex?.close();
    this.tls?.close();
  }
}
