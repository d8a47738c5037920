import type { Registry } from 'prom-client';
import type { DependencyContainer } from 'tsyringe';
import type { Logger } from './logging/logger.js';
import type { SourceRouter } from './registry/source-router.js';
import type { EvaluatorRegistry } from './registry/evaluator-registry.js';
import type { StorageRegistry } from './registry/storage-registry.js';
import type { NodeConfig } from './config/node-config.js';
import type { RoleName } from './contracts/plugin.js';

/** A DI token carrying the type it resolves to. Always `Symbol.for('d7y:<area>.<name>')`. */
export type Token<T> = symbol & { readonly __type?: T };

export function token<T>(name: string): Token<T> {
  return Symbol.for(`d7y:${name}`) as Token<T>;
}

/** Every DI token of d7y, in one registry. */
export const Tokens = {
  Logger: token<Logger>('core.logger'),
  Metrics: token<Registry>('core.metrics'),
  Config: token<NodeConfig>('core.config'),
  DataDir: token<string>('core.dataDir'),
  RoleName: token<RoleName>('core.role'),
  SourceRouter: token<SourceRouter>('source.router'),
  EvaluatorRegistry: token<EvaluatorRegistry>('evaluator.registry'),
  StorageRegistry: token<StorageRegistry>('storage.registry'),
} as const;

/** Resolves a token with its type. */
export function resolveToken<T>(container: DependencyContainer, t: Token<T>): T {
  return container.resolve<T>(t);
}
