import type { RoleCommandOptions } from './role-options.js';

/**
 * `d7y manager rotate-secret`: replaces the session signing secret in the manager's database (the
 * one of the node config) and ends every console session; every user logs in again. Running
 * managers on that database pick the new secret up within manager.auth.secretReloadInterval.
 */
export async function rotateManagerSecret(opts: RoleCommandOptions): Promise<void> {
  const { loadRoleConfig } = await import('./role-options.js');
  const config = await loadRoleConfig(opts);
  const { rotateManagerSessionSecret } = await import('../plugins/index.js');
  const { sessionsEnded } = await rotateManagerSessionSecret(config);
  process.stderr.write(`session signing secret rotated; ${sessionsEnded} session(s) ended (users log in again)\n`);
}
