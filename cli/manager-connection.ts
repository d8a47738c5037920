import type { Command } from './commander.js';
import type { ManagerClient } from '../core/protocol/manager/index.js';
import { D7yError } from '../core/errors/d7y-error.js';
import { loginStorePath, managerKey, readLogins, type StoredLogin } from './login-store.js';

export interface ManagerConnectionOptions {
  manager?: string;
  token?: string;
  user?: string;
}

/** What a command needs: a personal access token (open API), or a console session. */
export type ManagerCredential = 'pat' | 'session';

/** Adds `--manager` and `--token` (and `--user` for console commands) to a command. */
export function addManagerOptions(cmd: Command, console = false): Command {
  cmd.option('--manager <url>', 'manager URL (default $D7Y_MANAGER_URL, else the one manager of d7y login)')
    .option('--token <token>', console
      ? 'console session token (default $D7Y_SESSION_TOKEN, else the session of d7y login)'
      : 'personal access token (default $D7Y_TOKEN, else the session of d7y login)');
  if (console) cmd.option('--user <name>', 'sign in as this user; the password is read from $D7Y_PASSWORD');
  return cmd;
}

/**
 * The manager URL: `--manager`, else $D7Y_MANAGER_URL, else the only manager `d7y login` stored.
 * `logins` is read only when needed.
 */
export async function resolveManagerUrl(given: string | undefined, logins: () => Promise<Record<string, StoredLogin>> = () => readLogins()): Promise<string> {
  const url = given ?? process.env.D7Y_MANAGER_URL;
  if (url) return url;
  const stored = Object.keys(await logins());
  if (stored.length === 1) return stored[0]!;
  throw new D7yError('D7Y_INVALID_ARGUMENT', stored.length ? `no manager given, and d7y login stored ${stored.length}` : 'no manager given', {
    fix: stored.length
      ? `pass --manager (one of ${stored.join(', ')}) or set D7Y_MANAGER_URL`
      : 'pass --manager http://host:port, set D7Y_MANAGER_URL, or run d7y login --manager http://host:port once',
  });
}

function loginAgain(url: string, why: string): D7yError {
  return new D7yError('D7Y_UNAUTHENTICATED', `the session of d7y login for ${url} ${why}`, { fix: `run d7y login --manager ${url} again` });
}

function missing(need: ManagerCredential): D7yError {
  if (need === 'pat') {
    return new D7yError('D7Y_UNAUTHENTICATED', 'no token given: this command needs a personal access token (D7Y_TOKEN) or a session of d7y login', {
      fix: 'run d7y login, or pass --token / set D7Y_TOKEN to a personal access token (d7y token create makes one)',
    });
  }
  const sessionInToken = process.env.D7Y_TOKEN?.startsWith('d7ys.');
  return new D7yError('D7Y_UNAUTHENTICATED', 'no console session: this command needs a session (d7y login, or D7Y_SESSION_TOKEN)', {
    fix: sessionInToken
      ? 'D7Y_TOKEN holds a console session token, but it is for personal access tokens: set D7Y_SESSION_TOKEN instead, or run d7y login'
      : 'run d7y login, or pass --token / set D7Y_SESSION_TOKEN, or pass --user with the password in D7Y_PASSWORD',
  });
}

/**
 * A ManagerClient for a command that needs `need`: the token of `--token`, else of the variable
 * of that kind (D7Y_TOKEN for a personal access token, D7Y_SESSION_TOKEN for a session), else a
 * sign-in with `--user` and D7Y_PASSWORD (console commands), else the session `d7y login` stored
 * for the manager. A stored session that has expired or was ended is an error saying to log in again.
 */
export async function connectManager(opts: ManagerConnectionOptions, need: ManagerCredential = 'pat'): Promise<ManagerClient> {
  let logins: Promise<Record<string, StoredLogin>> | undefined;
  const readOnce = () => (logins ??= readLogins());
  const url = await resolveManagerUrl(opts.manager, readOnce);
  const { ManagerClient } = await import('../core/protocol/manager/index.js');
  const token = opts.token ?? (need === 'pat' ? process.env.D7Y_TOKEN : process.env.D7Y_SESSION_TOKEN) ?? undefined;
  if (token) return new ManagerClient({ url, token });
  if (opts.user) {
    const password = process.env.D7Y_PASSWORD;
    if (!password) throw new D7yError('D7Y_INVALID_ARGUMENT', `no password for user "${opts.user}"`, { fix: 'set D7Y_PASSWORD, or run d7y login once' });
    const client = new ManagerClient({ url });
    await client.signIn(opts.user, password);
    return client;
  }
  const key = managerKey(url);
  const login = (await readOnce())[key];
  if (!login) throw missing(need);
  if (Date.parse(login.expires_at) <= Date.now()) throw loginAgain(key, `(user ${login.user}) expired at ${login.expires_at}`);
  return new ManagerClient({
    url, token: login.token,
    onUnauthenticated: () => loginAgain(key, `(user ${login.user}, kept in ${loginStorePath()}) has expired or was ended`),
  });
}
