import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { D7yError } from '../core/errors/d7y-error.js';

/** What `d7y login` keeps of one manager. */
export interface StoredLogin {
  user: string;
  /** A console session token (`d7ys.…`). */
  token: string;
  expires_at: string;
}

/**
 * The store's schema, built on first use: zod is loaded only by the commands that read the store,
 * so that every other command (`d7y get` above all) starts without it.
 */
async function fileSchema() {
  const { z } = await import('zod');
  const login = z.object({ user: z.string(), token: z.string(), expires_at: z.string() });
  return z.object({ version: z.literal(1), managers: z.record(z.string(), login) });
}

/** `$XDG_CONFIG_HOME/d7y/credentials.json`, else `~/.config/d7y/credentials.json`. */
export function loginStorePath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(base, 'd7y', 'credentials.json');
}

/** The key of a manager URL in the store: scheme, host and port, and the path without its trailing `/`. */
export function managerKey(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `manager URL "${url}" is not a URL`, { fix: 'give --manager http://host:port' });
  }
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

/**
 * The sessions `d7y login` stored, one per manager URL (mode 0600 in a 0700 directory). A missing
 * file is no login; a file that cannot be read or parsed is an error naming it.
 */
export async function readLogins(file = loginStorePath()): Promise<Record<string, StoredLogin>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new D7yError('D7Y_CONFIG_INVALID', `the login store ${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      cause: err, fix: `make it readable by you, or delete it and run d7y login again`,
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const r = (await fileSchema()).safeParse(parsed);
  if (!r.success) {
    throw new D7yError('D7Y_CONFIG_INVALID', `the login store ${file} is corrupt`, { fix: `delete ${file} and run d7y login again` });
  }
  return r.data.managers;
}

async function writeLogins(managers: Record<string, StoredLogin>, file: string): Promise<void> {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify({ version: 1, managers }, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
}

/** Stores (or replaces) the login of the manager at `url`. */
export async function saveLogin(url: string, login: StoredLogin, file = loginStorePath()): Promise<void> {
  const managers = await readLogins(file);
  managers[managerKey(url)] = login;
  await writeLogins(managers, file);
}

/** Removes the login of the manager at `url`; false when there was none. */
export async function removeLogin(url: string, file = loginStorePath()): Promise<boolean> {
  const managers = await readLogins(file);
  const key = managerKey(url);
  if (!(key in managers)) return false;
  delete managers[key];
  await writeLogins(managers, file);
  return true;
}
