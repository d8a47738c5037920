import { inject, injectable } from 'tsyringe';
import type { NodeConfig } from '../../config/node-config.js';
import type { Logger } from '../../logging/logger.js';
import type { EvaluatorRegistry } from '../../registry/evaluator-registry.js';
import { Tokens } from '../../tokens.js';
import type { Role } from '../role.js';
import { SchedulingPolicyToken } from './scheduling-policy-token.js';
import type { SchedulingPolicy } from './scheduling-policy.js';

/** Chooses parents for peers. Starts with the evaluators and policy the plugin host composed. */
@injectable()
export class SchedulerRole implements Role {
  readonly name = 'scheduler' as const;

  constructor(
    @inject(Tokens.Config) private readonly config: NodeConfig,
    @inject(Tokens.Logger) private readonly logger: Logger,
    @inject(Tokens.EvaluatorRegistry) private readonly evaluators: EvaluatorRegistry,
    @inject(SchedulingPolicyToken) private readonly policy: SchedulingPolicy,
  ) {}

  describe(): Record<string, unknown> {
    return {
      listen: `${this.config.scheduler.listen.host}:${this.config.scheduler.listen.port}`,
      evaluators: this.evaluators.names(),
      policy: this.policy.experiment ? `experiment ${this.policy.experiment.id}` : this.policy.evaluator,
    };
  }

  async start(): Promise<void> {
    this.evaluators.get(this.policy.evaluator);
    this.logger.info(this.describe(), 'scheduler started');
  }

  async stop(): Promise<void> {
    this.logger.info('scheduler stopped');
  }
}
