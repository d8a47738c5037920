import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { rootContainer } from '../../core/di.js';
import { NodeConfigSchema } from '../../core/config/node-config.js';
import { createLogger, silentLogger, type Logger } from '../../core/logging/logger.js';
import { createMetricsRegistry } from '../../core/metrics/metrics.js';
import { ManagerClient } from '../../core/protocol/manager/index.js';
import { SourceRouter } from '../../core/registry/source-router.js';
import { ManagerRole } from '../../core/roles/manager/manager-role.js';
import { Tokens } from '../../core/tokens.js';
import { tmpDir } from '../support/env.js';
import { startCli, waitForOutput } from '../support/run-cli.js';

export const ROOT_PASSWORD = 'root-secret-password-1';

export interface StartedManager {
  role: ManagerRole;
  url: string;
  dataDir: string;
  /** A client signed in as root (console session token). */
  root: ManagerClient;
  client(token?: string): ManagerClient;
}

/** A ManagerRole on 127.0.0.1:0 in a child container (SQLite unless `databaseUrl`), stopped in teardown. */
export async function startManager(t: ExecutionContext, opts: {
  databaseUrl?: string; redisUrl?: string; manager?: Record<string, unknown>; logFile?: string; sources?: SourceRouter;
} = {}): Promise<StartedManager> {
  const dataDir = await tmpDir(t, 'd7y-manager-');
  const config = NodeConfigSchema.parse({
    dataDir,
    manager: {
      listen: { host: '127.0.0.1', port: 0 }, rootPassword: ROOT_PASSWORD,
      database: { url: opts.databaseUrl }, redis: { url: opts.redisUrl }, ...opts.manager,
    },
  });
  const logger: Logger = opts.logFile ? createLogger({ level: 'trace', destination: opts.logFile }) : silentLogger();
  const container = rootContainer.createChildContainer();
  container.register(Tokens.Config, { useValue: config });
  container.register(Tokens.Logger, { useValue: logger });
  container.register(Tokens.Metrics, { useValue: createMetricsRegistry() });
  container.register(Tokens.DataDir, { useValue: dataDir });
  container.register(Tokens.SourceRouter, { useValue: opts.sources ?? new SourceRouter() });
  const role = container.resolve(ManagerRole);
  await role.start();
  const clients: ManagerClient[] = [];
  const client = (token?: string) => {
    const c = new ManagerClient({ url: role.url, token });
    clients.push(c);
    return c;
  };
  t.teardown(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await role.stop();
  });
  const root = client();
  await root.signIn('root', ROOT_PASSWORD);
  return { role, url: role.url, dataDir, root, client };
}

/** A user of a (new) tenant, signed in, with a PAT of the given scopes. */
export async function tenantUser(m: StartedManager, name: string, tenant: string, scopes: string[] = ['job', 'cluster', 'persistent_cache']) {
  await m.root.call('POST', '/api/v1/users', { name, password: `${name}-password-1`, tenant });
  const session = m.client();
  await session.signIn(name, `${name}-password-1`);
  const pat = await session.createToken({ name: `${name}-token`, scopes });
  return { session, pat: m.client(pat.token), token: pat.token, sessionToken: session.token! };
}

/** A `d7y manager` process on 127.0.0.1:0 in `dir` (SQLite), with root signed in; stopped in teardown. */
export async function startManagerProcess(t: ExecutionContext, o: { dir: string; pluginsFile: string; security?: object }) {
  const configFile = join(o.dir, 'manager.json');
  await writeFile(configFile, JSON.stringify({
    dataDir: join(o.dir, 'manager'), pluginsFile: o.pluginsFile, log: { level: 'warn' }, ...(o.security ? { security: o.security } : {}),
    manager: { listen: { host: '127.0.0.1', port: 0 }, rootPassword: ROOT_PASSWORD },
  }));
  const process = startCli(t, ['manager', '--config', configFile]);
  const ready = await waitForOutput(process, /d7y: ready: manager \{"listen":"127\.0\.0\.1:(\d+)"/, 60_000);
  const url = `http://127.0.0.1:${/"listen":"127\.0\.0\.1:(\d+)"/.exec(ready)![1]}`;
  const root = new ManagerClient({ url });
  t.teardown(() => root.close());
  await root.signIn('root', ROOT_PASSWORD);
  return { process, url, root };
}

/** The HTTP status a manager call ended with (200 when it succeeded). */
export async function statusOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (err) {
    return ((err as { details?: { status?: number } }).details?.status) ?? -1;
  }
}
