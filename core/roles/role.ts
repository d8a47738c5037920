import type { DependencyContainer } from 'tsyringe';
import type { RoleName } from '../contracts/plugin.js';
import type { Startable } from '../contracts/startable.js';

/**
 * A running role (manager, scheduler, peer). Built from a child container in which the plugin
 * host has registered the role's plugins; it depends on contracts and tokens only.
 */
export interface Role extends Startable {
  readonly name: RoleName;
  /** A one-line-per-fact summary for the start banner and `--json` status. */
  describe(): Record<string, unknown>;
}

export type RoleFactory = (container: DependencyContainer) => Role;
