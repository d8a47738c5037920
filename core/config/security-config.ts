import { z } from 'zod';

/**
 * TLS on every listener and client of a node: `none` (plain TCP), `server` (servers present
 * `cert`/`key`, clients check them against `ca`) or `mutual` (clients present theirs too and
 * servers refuse a client without one signed by `ca`). Paths of PEM files; they are watched and
 * reloaded when they change.
 */
export const TlsConfigSchema = z.strictObject({
  mode: z.enum(['none', 'server', 'mutual']).default('none'),
  /** The CA bundle (PEM) that signs the cluster's certificates (`d7y cert init`). */
  ca: z.string().min(1).optional(),
  /** This node's certificate (PEM, `d7y cert issue`); needed to serve, and to call in `mutual`. */
  cert: z.string().min(1).optional(),
  /** The private key of `cert` (PEM, mode 0600). */
  key: z.string().min(1).optional(),
}).refine((t) => t.mode === 'none' || t.ca, { message: 'set security.tls.ca (the cluster CA, `d7y cert init`) when mode is server or mutual', path: ['ca'] })
  .refine((t) => Boolean(t.cert) === Boolean(t.key), { message: 'set security.tls.cert and security.tls.key together', path: ['key'] })
  .refine((t) => t.mode !== 'mutual' || t.cert, { message: 'mode mutual needs security.tls.cert and key (`d7y cert issue`)', path: ['cert'] });

export type TlsConfig = z.infer<typeof TlsConfigSchema>;

const secret = z.string().min(16, 'expected a secret of at least 16 characters (e.g. `openssl rand -hex 32`)');

/**
 * Credentials of the data plane, shared by every role of a node (top level of the config).
 *
 * `clusterSecret` proves membership of the cluster: peers, seed peers and schedulers present it on
 * every scheduler and dfdaemon call, every Vortex connection and every piece-HTTP request, and a
 * member serves only members (the tenant boundary). `seedSecret`, held by schedulers and seed peers
 * only, vouches for a seed (super) host and for the scheduler's DownloadTask, StatTask and
 * DeleteTask on a seed peer; unset, it is the cluster secret. Each may be given inline or as a
 * file (mode 0600) holding it; the values are never logged. Without `clusterSecret` the roles
 * run open (anyone who reaches them is served) and say so at start; `d7y up` generates both.
 */
export const SecurityConfigSchema = z.strictObject({
  clusterSecret: secret.optional(),
  clusterSecretFile: z.string().min(1).optional(),
  seedSecret: secret.optional(),
  seedSecretFile: z.string().min(1).optional(),
  /**
   * Take the credential from the manager this role is linked to (`scheduler.manager` /
   * `peer.manager`): the tenant's cluster secret, and the seed secret when the link's token has
   * scope `seed`. The last one received is kept (0600) for starts while the manager is away.
   */
  fromManager: z.boolean().optional(),
  /** TLS on every link of the node (see TlsConfigSchema). */
  tls: TlsConfigSchema.prefault({}),
}).refine((s) => !(s.clusterSecret && s.clusterSecretFile), { message: 'set clusterSecret or clusterSecretFile, not both' })
  .refine((s) => !(s.seedSecret && s.seedSecretFile), { message: 'set seedSecret or seedSecretFile, not both' })
  .refine((s) => !(s.fromManager && (s.clusterSecret || s.clusterSecretFile || s.seedSecret || s.seedSecretFile)), {
    message: 'set fromManager or the secrets themselves, not both',
  });

export type SecurityConfig = z.infer<typeof SecurityConfigSchema>;
