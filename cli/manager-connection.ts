import type { Command } from 'commander';
import type { ManagerClient } from '../core/protocol/manager/index.js';
import { D7yError } from '../core/errors/d7y-error.js';

export interface ManagerConnectionOptions {
  manager?: string;
  token?: string;
  user?: string;
}

/** Adds `--manager` and `--token` (and `--user` for console commands) to a command. */
export function addManagerOptions(cmd: Command, console = false): Command {
  cmd.option('--manager <url>', 'manager URL (default $D7Y_MANAGER_URL)')
    .option('--token <token>', console ? 'console session token (default $D7Y_TOKEN)' : 'personal access token (default $D7Y_TOKEN)');
  if (console) cmd.option('--user <name>', 'sign in as this user; the password is read from $D7Y_PASSWORD');
  return cmd;
}

/** A ManagerClient from the options and environment; signs in first when `--user` is given. */
export async function connectManager(opts: ManagerConnectionOptions): Promise<ManagerClient> {
  const url = opts.manager ?? process.env.D7Y_MANAGER_URL;
  if (!url) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', 'no manager given', { fix: 'pass --manager http://host:port or set D7Y_MANAGER_URL' });
  }
  const { ManagerClient } = await import('../core/protocol/manager/index.js');
  const client = new ManagerClient({ url, token: opts.token ?? process.env.D7Y_TOKEN });
  if (opts.user) {
    const password = process.env.D7Y_PASSWORD;
    if (!password) throw new D7yError('D7Y_INVALID_ARGUMENT', `no password for user "${opts.user}"`, { fix: 'set D7Y_PASSWORD' });
    await client.signIn(opts.user, password);
  } else if (!client.token) {
    throw new D7yError('D7Y_UNAUTHENTICATED', 'no token given', { fix: 'pass --token or set D7Y_TOKEN (d7y token create makes one)' });
  }
  return client;
}
