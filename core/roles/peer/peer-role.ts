import { inject, injectable } from 'tsyringe';
import type { NodeConfig } from '../../config/node-config.js';
import type { Logger } from '../../logging/logger.js';
import type { SourceRouter } from '../../registry/source-router.js';
import type { StorageRegistry } from '../../registry/storage-registry.js';
import { Tokens } from '../../tokens.js';
import type { Role } from '../role.js';

/** The daemon on every host: downloads and serves pieces through its storage medium and sources. */
@injectable()
export class PeerRole implements Role {
  readonly name = 'peer' as const;

  constructor(
    @inject(Tokens.Config) private readonly config: NodeConfig,
    @inject(Tokens.Logger) private readonly logger: Logger,
    @inject(Tokens.SourceRouter) private readonly sources: SourceRouter,
    @inject(Tokens.StorageRegistry) private readonly storage: StorageRegistry,
  ) {}

  describe(): Record<string, unknown> {
    return {
      seed: this.config.peer.seed,
      schemes: this.sources.schemes(),
      storage: this.config.peer.storage.medium,
    };
  }

  async start(): Promise<void> {
    const medium = this.storage.get(this.config.peer.storage.medium);
    await medium.start();
    this.logger.info(this.describe(), 'peer started');
  }

  async stop(): Promise<void> {
    if (this.storage.has(this.config.peer.storage.medium)) await this.storage.get(this.config.peer.storage.medium).stop();
    this.logger.info('peer stopped');
  }
}
