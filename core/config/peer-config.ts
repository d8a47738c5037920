import { hostname } from 'node:os';
import { z } from 'zod';
import { ManagerLinkConfigSchema, oneTokenSetting } from './manager-link-config.js';
import { metricsConfigSchema } from './metrics-config.js';
import { ProxyConfigSchema } from './proxy-config.js';
import { duration, rate, size, unitObject } from './unit-schemas.js';

const port = z.number().int().min(0).max(65535);
const bytesPerSecond = rate({ legacyNumber: true, unlimited: true });
const MIB = 1024 * 1024;

/**
 * The peer daemon's settings. Everything that must differ between two peers of one process
 * (data folder, ports, socket) lives here; a port of 0 means a random free port.
 */
export const PeerConfigSchema = unitObject({
  /** A seed peer goes back to the origin for the scheduler and announces itself as a super host. */
  seed: z.boolean().default(false),
  /** The peer's folder: relative to the node's dataDir, or absolute. Defaults to `peer` (`seed-peer` for seeds). */
  dataDir: z.string().optional(),
  host: z.strictObject({
    /** The address other peers reach this one at; the upload and rpc servers listen on it. */
    ip: z.string().default('127.0.0.1'),
    hostname: z.string().default(() => hostname()),
    idc: z.string().default(''),
    /** `country|region|zone`, most general first. */
    location: z.string().default(''),
  }).prefault({}),
  /** Vortex piece server (and its upload rate limit, e.g. "100MiB/s"; 0 or "unlimited" = no limit). */
  upload: z.strictObject({
    port: port.default(4005),
    rateLimit: bytesPerSecond.default(0),
    /** Upload bandwidth announced to the scheduler when no rate limit is set, e.g. "10Gbit/s". */
    maxBandwidth: rate({ legacyNumber: true }).default(1250 * MIB),
    maxConnections: z.number().int().min(1).default(512),
    /** Pieces uploaded at once; more requests wait their turn (a new piece spreads as a tree). */
    concurrentPieces: z.number().int().min(1).max(1024).default(8),
    /** A send whose child reads nothing for this long gives its slot to the next child (it may go on if the child reads again). */
    stalledSlotRelease: duration({ min: 10 }).default(1_000),
    /** A send whose child reads nothing for this long is cut and its connection closed (Vortex and piece HTTP). */
    writeTimeout: duration({ min: 10 }).default(5_000),
    /**
     * Vortex pieces stored as plain files go to children over plain TCP by the kernel (sendfile),
     * when the native addon is built (`npm run build:native`); over TLS, encrypted at rest, or
     * without the addon, they pass through JavaScript. Off: always through JavaScript.
     */
    sendfile: z.boolean().default(true),
    /**
     * Normal peers: children one piece is sent to at once over Vortex; a further child is told the
     * peer is busy and fetches it from another holder (each child passing it on as it arrives), so
     * the last pieces of a swarm spread as a tree instead of from one peer to all. 0 = no limit.
     */
    childrenPerPiece: z.number().int().min(0).max(1024).default(2),
    /**
     * A piece this peer reads from the origin (a seed peer, or a peer gone back to the source) is
     * offered and passed on to children as its bytes land, instead of once it is whole. Off: a
     * piece leaves this peer only once it is whole (when such a peer dies mid-download, no child
     * holds a partial copy of the pieces it was reading).
     */
    cutThroughFromOrigin: z.boolean().default(true),
    /**
     * Seed peers only: super-seeding. A child's first piece sync gets pieces no other child was
     * offered, at most `inFlight` undelivered offers per task (a piece still arriving from the
     * origin may be offered once its first bytes land); an offer not fetched within `offerTtl` of
     * the piece being whole may go to another child. Off: every child sees every piece at once.
     */
    superSeed: unitObject({
      enabled: z.boolean().default(true),
      inFlight: z.number().int().min(1).max(64).default(4),
      offerTtl: duration({ min: 100, legacy: 'offerTtlMs', default: 15_000 }),
    }).prefault({}),
  }).prefault({}),
  /** dfdaemon gRPC service (SyncPieces, DownloadTask, StatTask, DeleteTask). */
  rpc: z.strictObject({
    port: port.default(4000),
    /** Largest gRPC message the dfdaemon service accepts; a larger one fails with RESOURCE_EXHAUSTED. */
    maxReceiveMessageSize: size({ min: 64 * 1024, max: 256 * 1024 * 1024 }).default(4 * MIB),
  }).prefault({}),
  /**
   * Prometheus `/metrics` (`d7y_peer_…`, see docs/metrics.md), `/healthz` and `/readyz` (ready once a
   * scheduler took this host's announce) on its own small HTTP listener. The seed peer of `d7y up` takes this port + 10 (4012 by default), so the two never collide.
   */
  metrics: metricsConfigSchema(4002),
  /** HTTP range GET of one piece: `GET /pieces/<taskId>/<n>`; for tools and debugging. */
  pieceHttp: z.strictObject({
    port: port.default(4007),
  }).prefault({}),
  /**
   * HTTP proxy and OCI registry mirror for local clients (curl -x, containerd, skopeo, dnf, mvn):
   * requests whose URL matches a `p2p` rule (or that carry `X-Dragonfly-Use-P2P: true`) are served
   * through the swarm, everything else is forwarded to the origin as it is.
   */
  proxy: ProxyConfigSchema.prefault({}),
  /**
   * On SIGTERM the peer leaves its schedulers, stops taking connections and piece requests, and
   * waits this long at most for the uploads in flight before it closes them and exits.
   */
  drainTimeout: duration({ min: 0 }).default(10_000),
  /** The local API's unix socket; defaults to `<peer dataDir>/peer.sock`. */
  socket: z.string().optional(),
  /** Serve the local API on `socket`; off for a peer embedded in another program (a daemonless `d7y get`, the SDK). */
  localApi: z.boolean().default(true),
  /** Storage medium (by plugin-provided name) that holds pieces. */
  storage: z.strictObject({
    medium: z.string().default('disk'),
  }).prefault({}),
  /** Schedulers as `host:port`; a task's scheduler is chosen by consistent hash of its id. */
  schedulers: z.array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'expected host:port')).default(['127.0.0.1:8002']),
  download: unitObject({
    /** Pieces downloaded at once per task. */
    concurrency: z.number().int().min(1).max(16).default(8),
    /** How long a piece from a parent may go without a byte arriving before it is tried elsewhere. */
    pieceTimeout: duration({ min: 100, legacy: 'pieceTimeoutMs', default: 30_000 }),
    /** Download rate limit, e.g. "100MiB/s"; 0 or "unlimited" = no limit. */
    rateLimit: bytesPerSecond.default(0),
    /** May this peer fetch from the origin itself when the swarm cannot serve it. */
    backToSource: z.boolean().default(true),
    /**
     * Piece bodies from parents over plain TCP are read off the socket by the native addon, a
     * 256 KiB chunk per call, instead of by the event loop a few KiB per packet train (when the
     * addon is built). Off, over TLS or without the addon: the event loop reads them.
     */
    nativeReads: z.boolean().default(true),
    /** Objects of at most this size go straight to the origin, without the scheduler. */
    directMaxSize: size({ legacy: 'directMaxBytes', default: 4 * MIB }),
    /** Lowest piece length (tests may lower the 4 MiB floor). */
    pieceLengthMin: size({ min: 1024 }).default(4 * MIB),
    /** Reschedule rounds before giving up on the swarm. */
    maxReschedules: z.number().int().min(0).default(5),
    /** How long no parent may be able to serve a missing piece before a reschedule. */
    stallTimeout: duration({ min: 100, legacy: 'stallMs', default: 5_000 }),
    /**
     * How long a piece from a parent may wait for its trusted digest (from the scheduler) before the
     * download gives up on the swarm and reads the origin: bytes are never taken on a parent's word.
     */
    trustedDigestTimeout: duration({ min: 100 }).default(10_000),
  }).prefault({}),
  /** Time between host announces to the schedulers. */
  announceInterval: duration({ min: 1000, legacy: 'announceIntervalMs', default: 30_000 }),
  /**
   * Finished tasks on disk are announced to the schedulers in the background at start, when the
   * scheduler set changes and to a scheduler that restarted: `batchSize` tasks per call (the
   * scheduler takes at most 1000), one call in flight per scheduler.
   */
  heldTasks: z.strictObject({
    batchSize: z.number().int().min(1).max(1000).default(100),
  }).prefault({}),
  /**
   * Persistent cache (`d7y cache import|export`): the TTLs an import may ask for (tests may lower
   * the 5 min floor), how often this peer tells its schedulers which copies it holds and how much
   * room it has (a holder silent for the scheduler's holderTtl is replaced), and how many copies
   * it fetches at once for the scheduler.
   */
  persistentCache: z.strictObject({
    minTtl: duration({ min: 1 }).default(5 * 60_000),
    maxTtl: duration({ min: 1 }).default(7 * 24 * 3600_000),
    announceInterval: duration({ min: 100 }).default(5_000),
    maxReplicas: z.number().int().min(1).max(1000).default(100),
  }).prefault({}),
  /**
   * Ask a manager for this peer's schedulers (at start, then every `schedulerRefreshInterval`). A
   * daemon also registers (seed peers in the seed-peer cluster `cluster`), keeps alive every
   * `keepaliveInterval` with its disk and bandwidth, and takes the manager's commands. `schedulers`
   * above stays the fallback while the manager cannot be reached.
   */
  manager: ManagerLinkConfigSchema.extend({
    token: z.string().min(1).optional(),
    schedulerRefreshInterval: duration({ min: 1000, max: 600_000, legacy: 'schedulerRefreshMs', default: 60_000 }),
  }).refine(oneTokenSetting.check, oneTokenSetting.message).optional(),
});

export type PeerConfig = z.infer<typeof PeerConfigSchema>;

export { peerDataDir, peerSocketPath } from './paths.js';
