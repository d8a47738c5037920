import type { InjectionToken } from 'tsyringe';
import { rootContainer, type DependencyContainer } from '../core/di.js';
import { createMetricsRegistry } from '../core/metrics/metrics.js';
import { EvaluatorRegistry } from '../core/registry/evaluator-registry.js';
import { Lifecycle } from '../core/roles/lifecycle.js';
import { SchedulingPolicyToken } from '../core/roles/scheduler/scheduling-policy-token.js';
import { SourceRouter } from '../core/registry/source-router.js';
import { StorageRegistry } from '../core/registry/storage-registry.js';
import { Tokens } from '../core/tokens.js';
import type { Logger, RoleName } from '../core/index.js';
import type { NodeConfig } from '../core/config/node-config.js';
import type { Role } from '../core/roles/role.js';
import type { SchedulingPolicy } from '../core/roles/scheduler/scheduling-policy.js';
import type { PluginHost } from './plugin-host.js';
import type { PluginProblem } from './plugin-problem.js';

/** A role built in its own child container, with the plugin resources it must start and stop. */
export interface ComposedRole {
  role: Role;
  container: DependencyContainer;
  lifecycle: Lifecycle;
  /** A label for logs: the role name, or `peer (seed)`. */
  label: string;
}

/** Each role's class, loaded only when a process runs that role. */
const roleClasses: Record<RoleName, () => Promise<InjectionToken<Role>>> = {
  manager: async () => (await import('../core/roles/manager/manager-role.js')).ManagerRole,
  scheduler: async () => (await import('../core/roles/scheduler/scheduler-role.js')).SchedulerRole,
  peer: async () => (await import('../core/roles/peer/peer-role.js')).PeerRole,
};

/** Checks that the plugins loaded for a role meet what the role itself needs (evaluators, storage medium). */
function checkRoleNeeds(role: RoleName, host: PluginHost, config: NodeConfig, evaluators: EvaluatorRegistry, storage: StorageRegistry): PluginProblem[] {
  const problems: PluginProblem[] = [];
  const problem = (path: string, message: string, fix: string) =>
    problems.push({ plugin: role, phase: 'scheduler', path, message, fix, severity: 'error' });
  if (role === 'scheduler') {
    const policy = host.plugins.scheduler;
    const loaded = evaluators.names().join(', ') || 'none';
    if (!evaluators.has(policy.evaluator)) {
      problem('scheduler.evaluator', `evaluator "${policy.evaluator}" is not loaded (loaded evaluators: ${loaded})`,
        'name a loaded evaluator, or add and enable the evaluator plugin for the scheduler role');
    }
    policy.experiment?.variants.forEach((v, i) => {
      if (!evaluators.has(v.evaluator)) {
        problem(`scheduler.experiment.variants[${i}].evaluator`, `experiment "${policy.experiment?.id}" variant "${v.name}" names evaluator "${v.evaluator}", which is not loaded (loaded evaluators: ${loaded})`,
          'name a loaded evaluator, or add and enable its plugin for the scheduler role');
      }
    });
  }
  if (role === 'peer' && !storage.has(config.peer.storage.medium)) {
    problems.push({ plugin: 'peer', phase: 'capability', path: 'peer.storage.medium', severity: 'error',
      message: `storage medium "${config.peer.storage.medium}" is not loaded for the peer role (loaded: ${storage.names().join(', ') || 'none'})`,
      fix: `enable the "${config.peer.storage.medium}" storage plugin in plugins.json, or set peer.storage.medium to a loaded one` });
  }
  return problems;
}

/**
 * Builds one role: a child container with the core services registered under their tokens, the
 * role's plugins registered through the host, and the role resolved from the container.
 * Returns the problems instead of throwing, so that a start can report every role's at once.
 */
export async function composeRole(
  host: PluginHost,
  role: RoleName,
  config: NodeConfig,
  logger: Logger,
  label: string = role,
  parent: DependencyContainer = rootContainer,
): Promise<{ composed?: ComposedRole; problems: PluginProblem[] }> {
  const child = parent.createChildContainer();
  const roleLogger = logger.child({ role: label });
  const metrics = createMetricsRegistry();
  const sources = new SourceRouter();
  const evaluators = new EvaluatorRegistry();
  const storage = new StorageRegistry();
  const lifecycle = new Lifecycle();
  const { problems } = await host.registerRole(role, {
    sources, evaluators, storage, lifecycle, logger: roleLogger, metrics, dataDir: config.dataDir,
  });
  problems.push(...checkRoleNeeds(role, host, config, evaluators, storage));
  if (problems.some((p) => p.severity === 'error')) return { problems };

  const policy: SchedulingPolicy = { evaluator: host.plugins.scheduler.evaluator, experiment: host.plugins.scheduler.experiment };
  child.registerInstance(Tokens.Config, config);
  child.registerInstance(Tokens.Logger, roleLogger);
  child.registerInstance(Tokens.Metrics, metrics);
  child.registerInstance(Tokens.DataDir, config.dataDir);
  child.registerInstance(Tokens.RoleName, role);
  child.registerInstance(Tokens.SourceRouter, sources);
  child.registerInstance(Tokens.EvaluatorRegistry, evaluators);
  child.registerInstance(Tokens.StorageRegistry, storage);
  child.registerInstance(SchedulingPolicyToken, policy);
  const instance = child.resolve<Role>(await roleClasses[role]());
  return { composed: { role: instance, container: child, lifecycle, label }, problems };
}
