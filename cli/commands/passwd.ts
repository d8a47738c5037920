import type { Command } from '../commander.js';
import { D7yError } from '../../core/errors/d7y-error.js';
import { connectManager } from '../manager-connection.js';
import { ask, canPrompt, stdinLines } from '../secret-input.js';

interface PasswdOptions {
  manager?: string;
  token?: string;
  user?: string;
  passwordStdin?: boolean;
}

/** The current (for one's own password) and the new password: asked on a terminal (the new one twice), else lines of stdin. */
async function passwords(self: boolean, user: string, opts: PasswdOptions): Promise<{ old?: string; new: string }> {
  if (canPrompt(opts.passwordStdin)) {
    const old = self ? await ask('Current password: ', true) : undefined;
    const next = await ask(`New password for ${user}: `, true);
    if ((await ask('Repeat the new password: ', true)) !== next) {
      throw new D7yError('D7Y_INVALID_ARGUMENT', 'the two new passwords differ', { fix: 'run d7y passwd again and type the same new password twice' });
    }
    return { old, new: next };
  }
  const lines = await stdinLines();
  const [old, next] = self ? [lines[0], lines[1]] : [undefined, lines[0]];
  if ((self && !old) || !next) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', self ? 'stdin must hold the current password, then the new one, one a line' : `stdin must hold the new password of ${user}`, {
      fix: self ? "printf '%s\\n%s\\n' \"$OLD\" \"$NEW\" | d7y passwd" : `printf '%s\\n' "$NEW" | d7y passwd --user ${user}`,
    });
  }
  return { old, new: next };
}

/** `d7y passwd`: changes the signed-in user's password, or (root) sets another user's. */
export function registerPasswdCommand(program: Command): void {
  program.command('passwd')
    .description('change your manager password (root: --user sets another user\'s)')
    .option('--manager <url>', 'manager URL (default $D7Y_MANAGER_URL, else the one manager of d7y login)')
    .option('--token <token>', 'console session token (default $D7Y_SESSION_TOKEN, else the session of d7y login)')
    .option('--user <name>', 'set this user\'s password instead (root only; no current password needed)')
    .option('--password-stdin', 'read the passwords from stdin, one a line: the current one (for your own), then the new one')
    .action(async (opts: PasswdOptions) => {
      const client = await connectManager({ manager: opts.manager, token: opts.token }, 'session');
      try {
        const me = await client.me();
        const user = opts.user ?? me.name;
        const self = user === me.name;
        if (!self && me.role !== 'root') {
          throw new D7yError('D7Y_PERMISSION_DENIED', `only root may set the password of another user ("${user}")`, { fix: 'leave out --user to change your own password' });
        }
        const p = await passwords(self, user, opts);
        const r = await client.changePassword({ ...(!self && { user }), ...(p.old !== undefined && { old_password: p.old }), new_password: p.new });
        process.stderr.write(`password of ${r.user} changed${r.sessions_ended ? `; ${r.sessions_ended} ${self ? 'other ' : ''}session(s) ended` : ''}\n`);
        if (r.warning) process.stderr.write(`d7y: note: ${r.warning}\n`);
      } finally {
        await client.close();
      }
    });
}
