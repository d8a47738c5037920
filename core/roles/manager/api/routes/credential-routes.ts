import { randomBytes } from 'node:crypto';
import { D7yError } from '../../../../errors/d7y-error.js';
import type { ManagerServices } from '../../manager-services.js';
import { route, type ManagerRoute } from '../manager-route.js';

/** The data-plane credential the manager issues to the schedulers and peers of one tenant. */
export interface ClusterCredentialView {
  tenant_id: string;
  cluster_secret: string;
  /** Only for a token with scope `seed` (schedulers and seed peers). */
  seed_secret?: string;
}

/**
 * The cluster credential of a tenant (`security.fromManager` on its nodes): made at the first
 * request (two random 256-bit secrets), then the same for every node of the tenant, so nodes of
 * different tenants never serve each other. The seed secret goes only to tokens with scope `seed`.
 */
export function credentialRoutes(s: ManagerServices): ManagerRoute[] {
  return [
    route({
      method: 'get', path: '/oapi/v1/cluster-credential', summary: 'The tenant\'s data-plane credential (cluster secret; seed secret with scope seed)',
      auth: 'pat', scope: 'cluster',
      async handle({ principal }): Promise<ClusterCredentialView> {
        const find = () => s.db.selectFrom('tenant_credentials').selectAll().where('tenant_id', '=', principal.tenantId).executeTakeFirst();
        let row = await find();
        if (!row) {
          try {
            await s.db.insertInto('tenant_credentials').values({
              tenant_id: principal.tenantId, cluster_secret: randomBytes(32).toString('hex'), seed_secret: randomBytes(32).toString('hex'), created_at: Date.now(),
            }).execute();
          } catch {
            /* made concurrently */
          }
          row = await find();
        }
        if (!row) throw new D7yError('D7Y_INTERNAL', 'the cluster credential could not be stored', { fix: 'check the manager database' });
        const seed = principal.scopes.includes('seed');
        return { tenant_id: row.tenant_id, cluster_secret: row.cluster_secret, ...(seed ? { seed_secret: row.seed_secret } : {}) };
      },
    }),
  ];
}
