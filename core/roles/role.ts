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
  /**
   * Before `stop` on SIGTERM: stop taking new work (readiness turns false) and let the work in
   * flight finish, bounded by the role's own time-out. Optional; `stop` follows either way.
   */
  drain?(): Promise<unknown>;
}

export type RoleFactory = (container: DependencyContainer) => Role;
