import { randomBytes } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SecurityConfig } from '../../config/security-config.js';
import { D7yError } from '../../errors/d7y-error.js';
import type { Logger } from '../../logging/logger.js';
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
  o: { seedRole: boolean; role: string; logger: Logger; quiet?: boolean }): Promise<ClusterAuth | undefined> {
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
