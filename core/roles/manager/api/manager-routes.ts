import type { ManagerServices } from '../manager-services.js';
import type { ManagerRoute } from './manager-route.js';
import { auditRoutes } from './routes/audit-routes.js';
import { commandRoutes } from './routes/command-routes.js';
import { clusterRoutes } from './routes/cluster-routes.js';
import { credentialRoutes } from './routes/credential-routes.js';
import { discoveryRoutes } from './routes/discovery-routes.js';
import { downloadRoutes } from './routes/download-routes.js';
import { jobRoutes } from './routes/job-routes.js';
import { peerRoutes } from './routes/peer-routes.js';
import { persistentCacheRoutes } from './routes/persistent-cache-routes.js';
import { syncRoutes } from './routes/sync-routes.js';
import { tokenRoutes } from './routes/token-routes.js';
import { userRoutes } from './routes/user-routes.js';
import { webhookRoutes } from './routes/webhook-routes.js';

/** Every route of the manager API: the one table the app, the OpenAPI document and the access tests read. */
export function managerRoutes(s: ManagerServices): ManagerRoute[] {
  return [
    ...userRoutes(s),
    ...tokenRoutes(s),
    ...auditRoutes(s),
    ...clusterRoutes(s),
    ...discoveryRoutes(s),
    ...peerRoutes(s),
    ...credentialRoutes(s),
    ...jobRoutes(s),
    ...downloadRoutes(s),
    ...persistentCacheRoutes(s),
    ...webhookRoutes(s),
    ...commandRoutes(s),
    ...syncRoutes(s),
  ];
}
