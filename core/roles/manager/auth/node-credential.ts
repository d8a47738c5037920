import { randomUUID } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { formatPath } from '../../../config/config-loader.js';
import { D7yError } from '../../../errors/d7y-error.js';
import type { Logger } from '../../../logging/logger.js';
import type { ManagerDb } from '../database/manager-database.js';
import { hashAccessToken, newAccessToken } from './credentials.js';

const CredentialFileSchema = z.strictObject({
  version: z.literal(1),
  tokenId: z.string().min(1),
  userId: z.string().min(1),
  token: z.string().startsWith('d7y_'),
  createdAt: z.iso.datetime(),
  expiresAt: z.iso.datetime(),
});

type CredentialFile = z.infer<typeof CredentialFileSchema>;

export interface NodeCredentialOptions {
  /** The credential file (`nodeCredentialPath(dataDir)` for `d7y up`). */
  file: string;
  db: ManagerDb;
  /** The token's name in `d7y token list`. */
  name: string;
  /** Lifetime of a new token (the manager's `auth.maxTokenTtl`), ms. */
  ttlMs: number;
  logger: Logger;
}

export interface NodeCredential {
  token: string;
  tokenId: string;
  /** `created` (no file yet), `reused`, `renewed` (less than half its lifetime left) or `replaced` (issued by another database). */
  outcome: 'created' | 'reused' | 'renewed' | 'replaced';
}

/**
 * Returns the personal access token (scopes `job`, `cluster` and `seed`, owned by the root user) that the
 * roles running beside this manager use to reach it, kept in `file`:
 * `{ "version": 1, "tokenId", "userId", "token": "d7y_…", "createdAt", "expiresAt" }` (JSON, times ISO 8601),
 * written atomically with mode 0600 (a looser mode found is tightened, with a warning).
 *
 * The first call issues it; later calls reuse it. A token with less than half its lifetime left is
 * renewed (the old one revoked). A file whose user is unknown to this database (the database was
 * reset or replaced) is replaced by a new credential. Everything a person may have done on purpose
 * is refused with a D7yError naming the file and the fix, never undone: a token revoked or
 * deactivated on the manager, and a file that cannot be read or is corrupt (its token would stay
 * active if a new one were issued beside it).
 */
export async function ensureNodeCredential(o: NodeCredentialOptions): Promise<NodeCredential> {
  const now = Date.now();
  const stored = await readCredential(o.file, o.logger);
  if (!stored) return issue(o, now, 'created');
  const row = await o.db.selectFrom('personal_access_tokens').select(['user_id', 'token_hash', 'state', 'expires_at'])
    .where('id', '=', stored.tokenId).executeTakeFirst();
  if (!row) {
    const user = await o.db.selectFrom('users').select('id').where('id', '=', stored.userId).executeTakeFirst();
    if (user) {
      throw new D7yError('D7Y_UNAUTHENTICATED', `the token in the node credential ${o.file} was revoked on the manager`, {
        fix: `delete ${o.file} and start again to issue a new credential for this node's scheduler and peers`,
      });
    }
    o.logger.info({ file: o.file }, 'the node credential was issued by another manager database; issuing a new one');
    return issue(o, now, 'replaced');
  }
  if (row.user_id !== stored.userId || row.token_hash !== hashAccessToken(stored.token)) {
    throw corrupt(o.file, `its token does not match token ${stored.tokenId} of the manager`);
  }
  if (row.state !== 'active') {
    throw new D7yError('D7Y_PERMISSION_DENIED', `the token in the node credential ${o.file} (id ${stored.tokenId}) is deactivated on the manager`, {
      fix: `activate it again (PATCH /api/v1/personal-access-tokens/${stored.tokenId} {"state":"active"}), or delete ${o.file} to issue a new one`,
    });
  }
  if (row.expires_at - now < o.ttlMs / 2) {
    const renewed = await issue(o, now, 'renewed');
    await o.db.deleteFrom('personal_access_tokens').where('id', '=', stored.tokenId).execute();
    o.logger.info({ file: o.file, expiresAt: new Date(row.expires_at).toISOString() }, 'node credential renewed');
    return renewed;
  }
  return { token: stored.token, tokenId: stored.tokenId, outcome: 'reused' };
}

function corrupt(file: string, why: string): D7yError {
  return new D7yError('D7Y_CONFIG_INVALID', `the node credential ${file} is corrupt: ${why}`, {
    fix: `delete ${file} and start again to issue a new credential, then revoke the old token (d7y token list, d7y token revoke)`,
  });
}

/** The stored credential, or undefined when there is no file. */
async function readCredential(file: string, logger: Logger): Promise<CredentialFile | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new D7yError('D7Y_CONFIG_INVALID', `cannot read the node credential ${file}: ${code ?? String(err)}`, {
      cause: err, fix: `make ${file} a file readable by the user running d7y, or delete it to issue a new credential`,
    });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw corrupt(file, 'it is not JSON');
  }
  const parsed = CredentialFileSchema.safeParse(data);
  if (!parsed.success) {
    throw corrupt(file, parsed.error.issues.map((i) => `${i.path.length ? `${formatPath(i.path)}: ` : ''}${i.message}`).join('; '));
  }
  const mode = (await stat(file)).mode & 0o777;
  if (mode & 0o077) {
    await chmod(file, 0o600);
    logger.warn({ file, mode: mode.toString(8) }, 'the node credential was readable by other users; set its mode to 0600 (revoke and reissue it if they may have read it)');
  }
  return parsed.data;
}

/** A new token for the root user, recorded in the database, then in the file. */
async function issue(o: NodeCredentialOptions, now: number, outcome: NodeCredential['outcome']): Promise<NodeCredential> {
  const root = await o.db.selectFrom('users').select(['id', 'tenant_id']).where('name', '=', 'root').where('role', '=', 'root').executeTakeFirst();
  if (!root) {
    throw new D7yError('D7Y_INTERNAL', 'the manager has no root user to issue the node credential for', {
      fix: 'start the manager once on its own so that it creates the root user, then start again',
    });
  }
  const { token, hash, prefix } = newAccessToken();
  const tokenId = randomUUID();
  const expiresAt = now + o.ttlMs;
  await o.db.insertInto('personal_access_tokens').values({
    id: tokenId, tenant_id: root.tenant_id, user_id: root.id, name: o.name, token_hash: hash, token_prefix: prefix,
    scopes: 'cluster,job,seed', state: 'active', expires_at: expiresAt, created_at: now, last_used_at: null,
  }).execute();
  try {
    await writeCredential(o.file, {
      version: 1, tokenId, userId: root.id, token, createdAt: new Date(now).toISOString(), expiresAt: new Date(expiresAt).toISOString(),
    });
  } catch (err) {
    await o.db.deleteFrom('personal_access_tokens').where('id', '=', tokenId).execute().catch(() => undefined);
    throw new D7yError('D7Y_CONFIG_INVALID', `cannot write the node credential ${o.file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      cause: err, fix: `make ${dirname(o.file)} writable by the user running d7y`,
    });
  }
  o.logger.info({ file: o.file, tokenId, outcome }, 'node credential issued');
  return { token, tokenId, outcome };
}

/** Writes the file atomically (a temporary file, then rename), mode 0600 from its creation. */
async function writeCredential(file: string, data: CredentialFile): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await rm(tmp, { force: true });
  try {
    await writeFile(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
