import { z } from 'zod';
import { duration, size } from './unit-schemas.js';

const ms = (def: number) => duration({ min: 1, legacyNumber: true }).default(def);

/** The manager role's config. Durations take units (`"30s"`, `"14d"`); a plain number is milliseconds. */
export const ManagerConfigSchema = z.strictObject({
  listen: z.strictObject({
    host: z.string().default('127.0.0.1'),
    /** 0 picks a free port; the role logs and exposes the real one. */
    port: z.number().int().min(0).max(65535).default(8080),
    /** Largest request body the API reads; a larger one is answered 413. */
    maxBodySize: size({ min: 1024 }).default(1024 * 1024),
    /** Deepest nesting of arrays and objects in a JSON body; a deeper one is answered 400. */
    maxJsonDepth: z.number().int().min(4).max(1000).default(32),
  }).prefault({}),
  database: z.strictObject({
    /** `postgres://…` for PostgreSQL; unset means the embedded SQLite file in the data directory. */
    url: z.string().optional(),
    /** The SQLite file, relative to the data directory (embedded mode only). */
    file: z.string().default('manager.sqlite'),
    /** PostgreSQL connections kept by this manager. */
    poolSize: z.number().int().min(1).max(200).default(10),
  }).prefault({}),
  redis: z.strictObject({
    /** `redis://host:port/db`; when set, preheat limits are shared by every manager using it. */
    url: z.string().optional(),
  }).prefault({}),
  /**
   * The root user's password (or D7Y_MANAGER__ROOT_PASSWORD), applied at every start: when it
   * differs from the stored one, root's password is set to it and root's sessions end. Unset: the
   * first start generates one and prints it once on stderr; `d7y passwd` changes it later.
   */
  rootPassword: z.string().min(8).optional(),
  /**
   * A file holding a token (`d7y_` + at least 32 characters, e.g. a mounted secret) that the cluster's
   * schedulers and peers present (their `manager.tokenFile`): at each start the manager makes it a
   * personal access token of root with scopes `cluster` and `job`, so no token is created by hand.
   */
  nodeTokenFile: z.string().min(1).optional(),
  auth: z.strictObject({
    /** Lifetime of a console session token from `/api/v1/users/signin`. */
    sessionTtl: ms(14 * 24 * 3600_000),
    /** Longest lifetime a personal access token may be given. */
    maxTokenTtl: ms(365 * 24 * 3600_000),
    /** Failed sign-ins allowed per user name within `lockoutWindow`; the next ones are answered 429 until it passes. */
    maxFailedLogins: z.number().int().min(1).max(1000).default(5),
    /** Failed sign-ins allowed per source address within `lockoutWindow`. */
    maxFailedLoginsPerIp: z.number().int().min(1).max(100_000).default(20),
    /** The window failed sign-ins are counted in, and how long a lockout lasts. */
    lockoutWindow: ms(15 * 60_000),
    /** How often a manager reloads the session signing secret, so a rotation on a shared database reaches it. */
    secretReloadInterval: ms(5_000),
  }).prefault({}),
  /** A scheduler or seed peer without keepalive for this long is inactive. */
  keepaliveTtl: ms(30_000),
  jobs: z.strictObject({
    /** Preheat jobs accepted per scheduler cluster per second, across every manager sharing Redis. */
    preheatRateLimit: z.number().int().min(1).max(100_000).default(10),
    /** A job not finished after this long fails (each job may set a shorter `timeout`). */
    defaultTimeout: ms(3600_000),
    /** How often timed-out jobs are swept. */
    sweepInterval: ms(5_000),
  }).prefault({}),
  webhooks: z.strictObject({
    /**
     * Where webhooks may point: host names (`hooks.example.com`, `*.example.com`), addresses
     * (`127.0.0.1`, `::1`) or CIDRs (`10.1.0.0/16`). Empty: no webhook can be created. A URL must
     * name an allowed host; at each delivery its name is resolved and the address connected to must
     * be a listed address or CIDR, or a public address reached through a listed name.
     */
    allowedHosts: z.array(z.string().min(1)).max(1000).default([]),
    /** Attempts per delivery (the first one included) before it is given up. */
    maxAttempts: z.number().int().min(1).max(50).default(8),
    /** Wait before the second attempt; each later wait doubles, up to `maxBackoff`. */
    initialBackoff: ms(1_000),
    maxBackoff: ms(10 * 60_000),
    /** One attempt's deadline (connect, send, answer). */
    timeout: ms(10_000),
    /** Deliveries kept per webhook in its log; older ones are deleted. */
    logSize: z.number().int().min(10).max(100_000).default(1_000),
  }).prefault({}),
  commands: z.strictObject({
    /** How long a scheduler's or peer's wait for commands is held open before it is answered empty and renewed. */
    waitTimeout: ms(25_000),
    /** A command not acknowledged after this long fails. */
    ackTimeout: ms(5 * 60_000),
  }).prefault({}),
  audit: z.strictObject({
    /** Audit rows older than this are deleted. */
    retention: ms(30 * 24 * 3600_000),
  }).prefault({}),
});

export type ManagerConfig = z.infer<typeof ManagerConfigSchema>;
