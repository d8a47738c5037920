import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { SecurityConfig } from '../../config/security-config.js';
import { D7yError, isD7yError } from '../../errors/d7y-error.js';
import { ManagerClient } from '../manager/manager-client.js';
import { managerToken } from '../../config/manager-link-config.js';
import type { Logger } from '../../logging/logger.js';
import type { NodeTls } from '../tls/node-tls.js';
import { ClusterAuth } from './cluster-auth.js';

/**
 * Where `d7y up` keeps the secrets it generated for its roles: `<dataDir>/cluster-secret` and
 * `<dataDir>/seed-secret`, one line each, mode 0600. Another process joins the node's cluster with
 * `security.clusterSecretFile` pointing at the first.
 */
export function generatedSecretPaths(nodeDataDir: string): { clusterSecretFile: string; seedSecretFile: string } {
  return { clusterSecretFile: join(nodeDataDir, 'cluster-secret'), seedSecretFile: join(nodeDataDir, 'seed-secret') };
}

/** True when the config names a cluster secret (inline or in a file). */
export function hasClusterSecret(security: SecurityConfig): boolean {
  return Boolean(security.clusterSecret ?? security.clusterSecretFile);
}

/**
 * The cluster credential of a role from `security`, or undefined (and a warning naming what is
 * open) when no cluster secret is configured. `seedRole`: a scheduler or seed peer, which also
 * holds the seed secret (the cluster secret when no seed secret is set, with a warning); a normal
 * peer never loads it. Secret files are read once; one readable by others is used with a warning.
 * `quiet`: the open-mode notice is a debug line (a peer embedded in a command, or with no cluster).
 */
export async function loadClusterAuth(security: SecurityConfig,
  o: { seedRole: boolean; role: string; logger: Logger; quiet?: boolean; manager?: ManagerCredentialSource }): Promise<ClusterAuth | undefined> {
  if (security.fromManager) return credentialFromManager(o);
  const cluster = security.clusterSecret ?? (security.clusterSecretFile && await readSecret(security.clusterSecretFile, 'security.clusterSecretFile', o.logger));
  if (!cluster) {
    o.logger[o.quiet ? 'debug' : 'warn']({ role: o.role }, 'security.clusterSecret is not set: this role serves and obeys anyone who reaches its ports; set security.clusterSecret (or clusterSecretFile) on every node of the cluster');
    return undefined;
  }
  if (!o.seedRole) return new ClusterAuth(cluster);
  const seed = security.seedSecret ?? (security.seedSecretFile && await readSecret(security.seedSecretFile, 'security.seedSecretFile', o.logger));
  if (!seed) {
    o.logger.warn({ role: o.role }, 'security.seedSecret is not set: every cluster member may announce itself as a seed peer and trigger seed downloads; set security.seedSecret on schedulers and seed peers only');
  }
  return new ClusterAuth(cluster, seed || cluster);
}

/** Where a role linked to a manager asks for its credential, and where it keeps the last one. */
export interface ManagerCredentialSource {
  /** The role's manager link; undefined when the role has none. */
  link?: { url: string; token?: string; tokenFile?: string; ca?: string };
  /** The config key of the link, for error messages (`scheduler.manager`, `peer.manager`). */
  key: string;
  /** The node's TLS (security.tls), for an https manager. */
  tls?: NodeTls;
  /** The file keeping the last credential received (mode 0600). */
  cacheFile: string;
}

interface ManagerCredential {
  tenant_id: string;
  cluster_secret: string;
  seed_secret?: string;
}

async function credentialFromManager(o: { seedRole: boolean; role: string; logger: Logger; manager?: ManagerCredentialSource }): Promise<ClusterAuth> {
  const src = o.manager;
  const token = src?.link && await managerToken(src.link);
  if (!src?.link || !token) {
    throw new D7yError('D7Y_CONFIG_INVALID', `security.fromManager is set, but the ${o.role} has no manager link with a token${src ? ` (${src.key})` : ''}`, {
      fix: `set ${src?.key ?? 'the role manager link'}.url and .token (or .tokenFile), or give security.clusterSecretFile instead of fromManager`,
    });
  }
  let cred: ManagerCredential;
  const client = new ManagerClient({ url: src.link.url, token, timeoutMs: 10_000, tls: src.tls, ca: src.link.ca, caKey: `${src.key}.ca` });
  try {
    const answer = credentialOf(await client.call<unknown>('GET', '/oapi/v1/cluster-credential'));
    if (!answer) {
      throw new D7yError('D7Y_CONFIG_INVALID', `${src.link.url} answered GET /oapi/v1/cluster-credential without a usable cluster secret`, {
        fix: `check that ${src.key}.url points at a d7y manager that issues credentials, or give security.clusterSecretFile instead of fromManager`,
      });
    }
    cred = answer;
    await mkdir(dirname(src.cacheFile), { recursive: true, mode: 0o700 });
    await writeFile(src.cacheFile, `${JSON.stringify(cred)}\n`, { mode: 0o600 });
    await chmod(src.cacheFile, 0o600);
  } catch (err) {
    if (!isD7yError(err, 'D7Y_INTERNAL')) throw err;
    const kept = await readKept(src.cacheFile);
    if (!kept) throw err;
    o.logger.warn({ manager: src.link.url, err: (err as Error).message, file: src.cacheFile }, 'manager unreachable: using the cluster credential it gave last time');
    cred = kept;
  } finally {
    await client.close();
  }
  if (!o.seedRole) return new ClusterAuth(cred.cluster_secret);
  if (!cred.seed_secret) {
    throw new D7yError('D7Y_PERMISSION_DENIED', `the manager gave the ${o.role} no seed credential: the token of ${src.key} lacks scope seed`, {
      fix: 'give schedulers and seed peers a token with scopes cluster,seed (d7y token create NAME --scope cluster,job,seed); normal peers need only cluster',
    });
  }
  return new ClusterAuth(cred.cluster_secret, cred.seed_secret);
}

/** The credential in a manager's answer (or a kept copy), or undefined when it holds no usable secrets. */
function credentialOf(v: unknown): ManagerCredential | undefined {
  const c = v as Partial<ManagerCredential> | null;
  const usable = (x: unknown) => typeof x === 'string' && x.length >= 16;
  if (!c || typeof c !== 'object' || !usable(c.cluster_secret)) return undefined;
  if (c.seed_secret !== undefined && !usable(c.seed_secret)) return undefined;
  return { tenant_id: String(c.tenant_id ?? ''), cluster_secret: c.cluster_secret!, ...(c.seed_secret ? { seed_secret: c.seed_secret } : {}) };
}

async function readKept(file: string): Promise<ManagerCredential | undefined> {
  try {
    return credentialOf(JSON.parse(await readFile(file, 'utf8')));
  } catch {
    return undefined;
  }
}

async function readSecret(file: string, key: string, logger: Logger): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new D7yError('D7Y_CONFIG_INVALID', `cannot read ${key} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      cause: err, fix: `make ${file} a file (mode 0600) readable by the user running d7y, holding the secret on one line`,
    });
  }
  const secret = text.trim();
  if (secret.length < 16) {
    throw new D7yError('D7Y_CONFIG_INVALID', `${key} ${file} holds ${secret.length ? 'a secret shorter than 16 characters' : 'no secret'}`, {
      fix: `write a long random secret into ${file} (e.g. openssl rand -hex 32 > ${file}; chmod 600 ${file})`,
    });
  }
  const mode = (await stat(file)).mode & 0o777;
  if (mode & 0o077) logger.warn({ file, mode: mode.toString(8) }, `${key} is readable by other users; chmod 600 it`);
  return secret;
}

/**
 * Writes each secret file of `generatedSecretPaths(nodeDataDir)` that does not exist yet (a random
 * 256-bit value in hex, mode 0600 from its creation) and returns the paths; existing files are kept
 * as they are (and checked when the roles load them).
 */
export async function ensureGeneratedSecrets(nodeDataDir: string, logger: Logger): Promise<{ clusterSecretFile: string; seedSecretFile: string }> {
  const paths = generatedSecretPaths(nodeDataDir);
  await mkdir(nodeDataDir, { recursive: true });
  for (const file of Object.values(paths)) {
    try {
      await writeFile(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
      logger.info({ file }, 'secret generated for the roles of this node');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw new D7yError('D7Y_CONFIG_INVALID', `cannot write the secret ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
        cause: err, fix: `make ${nodeDataDir} writable by the user running d7y`,
      });
    }
  }
  return paths;
}

/**
 * This host's identity, a random value kept in `<peer dir>/host-identity` (mode 0600) so that it
 * survives restarts: schedulers bind the host record to it, so no other process can take the
 * host's id.
 */
export async function loadHostIdentity(peerDir: string): Promise<string> {
  const file = join(peerDir, 'host-identity');
  try {
    const text = (await readFile(file, 'utf8')).trim();
    if (/^[0-9a-f]{64}$/.test(text)) return text;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new D7yError('D7Y_CONFIG_INVALID', `cannot read the host identity ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
        cause: err, fix: `make ${file} readable by the user running d7y, or delete it (schedulers accept the new identity once the old host record expires)`,
      });
    }
  }
  const identity = randomBytes(32).toString('hex');
  await writeFile(file, `${identity}\n`, { mode: 0o600 });
  return identity;
}
