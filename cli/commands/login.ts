import type { Command } from '../commander.js';
import { D7yError } from '../../core/errors/d7y-error.js';
import { loginStorePath, managerKey, readLogins, removeLogin, saveLogin } from '../login-store.js';
import { resolveManagerUrl } from '../manager-connection.js';
import { ask, canPrompt, stdinLines } from '../secret-input.js';

interface LoginOptions {
  manager?: string;
  user?: string;
  passwordStdin?: boolean;
}

/** The password of `d7y login`: stdin with --password-stdin, else $D7Y_PASSWORD, else the terminal, else stdin. */
async function loginPassword(user: string, opts: LoginOptions): Promise<string> {
  let password: string | undefined;
  if (!opts.passwordStdin && process.env.D7Y_PASSWORD) password = process.env.D7Y_PASSWORD;
  else if (canPrompt(opts.passwordStdin)) password = await ask(`Password for ${user}: `, true);
  else password = (await stdinLines())[0];
  if (!password) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `no password given for user "${user}"`, {
      fix: 'type it at the prompt, pipe it on stdin (echo "$PASSWORD" | d7y login --password-stdin), or set D7Y_PASSWORD',
    });
  }
  return password;
}

/** Ends a stored session on the manager, as far as it can (a session already ended is fine; `quiet` says nothing of failures). */
async function endSession(url: string, token: string, quiet: boolean): Promise<void> {
  const { ManagerClient } = await import('../../core/protocol/manager/index.js');
  const client = new ManagerClient({ url, token, timeoutMs: 5_000 });
  try {
    await client.signOut();
  } catch (err) {
    const status = (err as D7yError).details?.status;
    if (!quiet && status !== 401) process.stderr.write(`d7y: the session could not be ended on the manager (${(err as Error).message}); forgetting it here anyway\n`);
  } finally {
    await client.close();
  }
}

/** `d7y login` and `d7y logout`: a console session kept per manager in the user's config directory. */
export function registerLoginCommands(program: Command): void {
  program.command('login')
    .description('sign in to a manager and keep the session for the later manager commands (in ~/.config/d7y/credentials.json)')
    .option('--manager <url>', 'manager URL (default $D7Y_MANAGER_URL, else the one manager already logged in to)')
    .option('--user <name>', 'user name (asked on a terminal; default root)')
    .option('--password-stdin', 'read the password from stdin (the first line)')
    .action(async (opts: LoginOptions) => {
      const url = managerKey(await resolveManagerUrl(opts.manager));
      const user = opts.user ?? (canPrompt(opts.passwordStdin) ? (await ask('Username [root]: ')).trim() || 'root' : 'root');
      const password = await loginPassword(user, opts);
      const { ManagerClient } = await import('../../core/protocol/manager/index.js');
      const client = new ManagerClient({ url });
      try {
        const previous = (await readLogins())[url];
        const session = await client.startSession(user, password);
        await saveLogin(url, { user: session.user ?? user, token: session.token, expires_at: session.expires_at });
        if (previous) await endSession(url, previous.token, true);
        process.stderr.write(`logged in to ${url} as ${user}; the session lasts until ${session.expires_at} (kept in ${loginStorePath()})\n`);
      } finally {
        await client.close();
      }
    });
  program.command('logout')
    .description('end the session of d7y login on the manager and forget it')
    .option('--manager <url>', 'manager URL (default $D7Y_MANAGER_URL, else the one manager logged in to)')
    .action(async (opts: { manager?: string }) => {
      const url = managerKey(await resolveManagerUrl(opts.manager));
      const login = (await readLogins())[url];
      if (!login) throw new D7yError('D7Y_NOT_FOUND', `not logged in to ${url}`, { fix: `nothing to do; d7y login --manager ${url} signs in` });
      await endSession(url, login.token, false);
      await removeLogin(url);
      process.stderr.write(`logged out of ${url}\n`);
    });
}
