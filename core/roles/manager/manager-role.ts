import { inject, injectable } from 'tsyringe';
import type { NodeConfig } from '../../config/node-config.js';
import type { Logger } from '../../logging/logger.js';
import { Tokens } from '../../tokens.js';
import type { Role } from '../role.js';

/** The control plane. Its API and database arrive with the manager issue; today it starts and reports. */
@injectable()
export class ManagerRole implements Role {
  readonly name = 'manager' as const;

  constructor(
    @inject(Tokens.Config) private readonly config: NodeConfig,
    @inject(Tokens.Logger) private readonly logger: Logger,
  ) {}

  describe(): Record<string, unknown> {
    return { database: this.config.manager.database.url ? 'postgresql' : 'sqlite (embedded)' };
  }

  async start(): Promise<void> {
    this.logger.info(this.describe(), 'manager started');
  }

  async stop(): Promise<void> {
    this.logger.info('manager stopped');
  }
}
