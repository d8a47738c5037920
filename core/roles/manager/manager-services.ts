import type { ManagerConfig } from '../../config/manager-config.js';
import type { Logger } from '../../logging/logger.js';
import type { SourceRouter } from '../../registry/source-router.js';
import type { AuditLog } from './audit-log.js';
import type { CommandHub } from './commands/command-hub.js';
import type { SessionSigner } from './auth/credentials.js';
import type { LoginGuard } from './auth/login-guard.js';
import type { ManagerDb } from './database/manager-database.js';
import type { ImageResolver } from './jobs/image-resolver.js';
import type { PreheatLimiter } from './jobs/preheat-limiter.js';
import type { SyncRunner } from './syncs/sync-runner.js';
import type { WebhookDispatcher } from './webhooks/webhook-dispatcher.js';

/** What the manager's routes work with; built once by ManagerRole. */
export interface ManagerServices {
  db: ManagerDb;
  config: ManagerConfig;
  signer: SessionSigner;
  logins: LoginGuard;
  limiter: PreheatLimiter;
  images: ImageResolver;
  audit: AuditLog;
  logger: Logger;
  webhooks: WebhookDispatcher;
  commands: CommandHub;
  syncs: SyncRunner;
  /** The source plugins the manager loaded (image preheats, sync listings). */
  sources: SourceRouter;
}
