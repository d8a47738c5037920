import { D7yError } from '../core/errors/d7y-error.js';
import type { RoleCommandOptions } from './role-options.js';
import { ask, canPrompt, stdinLines } from './secret-input.js';

export interface ResetPasswordOptions extends RoleCommandOptions {
  user: string;
  passwordStdin?: boolean;
}

/**
 * `d7y manager reset-password`: sets a user's password straight in the manager's database (the one
 * of the node config: SQLite in the data dir, or manager.database.url), without signing in, and
 * ends that user's sessions. For a forgotten root password. Refused for root while
 * manager.rootPassword is set, since the next start would set it back.
 */
export async function resetManagerPassword(opts: ResetPasswordOptions): Promise<void> {
  const { loadRoleConfig } = await import('./role-options.js');
  const config = await loadRoleConfig(opts);
  const m = config.manager;
  if (opts.user === 'root' && m.rootPassword) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', 'manager.rootPassword is set in this config, and every manager start sets root\'s password to it', {
      fix: 'change manager.rootPassword (or D7Y_MANAGER__ROOT_PASSWORD) and restart the manager',
    });
  }
  let password: string | undefined;
  if (canPrompt(opts.passwordStdin)) {
    password = await ask(`New password for ${opts.user}: `, true);
    if ((await ask('Repeat the new password: ', true)) !== password) {
      throw new D7yError('D7Y_INVALID_ARGUMENT', 'the two passwords differ', { fix: 'run the command again and type the same password twice' });
    }
  } else {
    password = (await stdinLines())[0];
  }
  if (!password || password.length < 8) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', 'the new password must have at least 8 characters', { fix: 'type it at the prompt or pipe it on stdin' });
  }
  const { resetManagerUserPassword } = await import('../plugins/index.js');
  const { sessionsEnded } = await resetManagerUserPassword(config, opts.user, password);
  process.stderr.write(`password of ${opts.user} set in the manager database; ${sessionsEnded} session(s) ended\n`);
}
