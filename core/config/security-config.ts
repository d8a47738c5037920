import { z } from 'zod';

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
}).refine((s) => !(s.clusterSecret && s.clusterSecretFile), { message: 'set clusterSecret or clusterSecretFile, not both' })
  .refine((s) => !(s.seedSecret && s.seedSecretFile), { message: 'set seedSecret or seedSecretFile, not both' })
  .refine((s) => !(s.fromManager && (s.clusterSecret || s.clusterSecretFile || s.seedSecret || s.seedSecretFile)), {
    message: 'set fromManager or the secrets themselves, not both',
  });

export type SecurityConfig = z.infer<typeof SecurityConfigSchema>;
