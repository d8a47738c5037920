import { D7yError } from '../../../errors/d7y-error.js';
import type { ManagerDb } from '../database/manager-database.js';
import type { Principal, TokenScope } from '../api/manager-route.js';
import { hashAccessToken, type SessionSigner } from './credentials.js';

const LAST_USED_RESOLUTION_MS = 60_000;

function unauthenticated(message: string, fix: string): D7yError {
  return new D7yError('D7Y_UNAUTHENTICATED', message, { fix });
}

/** The Bearer token of an `Authorization` header, if any. */
export function bearerOf(header: string | undefined): string | undefined {
  const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return m ? m[1] : undefined;
}

/**
 * Turns a Bearer token into a Principal. Session tokens (`d7ys.…`, valid while their `sessions`
 * row lives) are for `/api/v1`, personal access tokens (`d7y_…`) for `/oapi/v1`. Missing or unknown tokens give D7Y_UNAUTHENTICATED
 * (401); an inactive or expired PAT gives D7Y_PERMISSION_DENIED (403).
 */
export class Authenticator {
  constructor(private readonly db: ManagerDb, private readonly signer: SessionSigner) {}

  async authenticate(token: string | undefined, kind: 'session' | 'pat', now = Date.now()): Promise<Principal> {
    if (!token) {
      throw unauthenticated('the request carries no Bearer token', kind === 'session'
        ? 'sign in with POST /api/v1/users/signin and send "Authorization: Bearer <token>"'
        : 'create a personal access token (d7y token create) and send "Authorization: Bearer <token>"');
    }
    if (kind === 'session' && token.startsWith('d7y_')) {
      throw unauthenticated('a personal access token was sent to a console route, which takes a session token',
        'sign in (d7y login, or POST /api/v1/users/signin) and send the session token');
    }
    if (kind === 'pat' && token.startsWith('d7ys.')) {
      throw unauthenticated('a console session token was sent to the open API, which takes a personal access token',
        'create a personal access token (d7y token create) and send it instead');
    }
    return kind === 'session' ? this.session(token, now) : this.pat(token, now);
  }

  private async session(token: string, now: number): Promise<Principal> {
    const claims = this.signer.verify(token, now);
    const user = claims && await this.db.selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .select(['users.id', 'users.tenant_id', 'users.name', 'users.role'])
      .where('sessions.id', '=', claims.sid).where('sessions.user_id', '=', claims.sub).where('sessions.expires_at', '>', now)
      .executeTakeFirst();
    if (!user) {
      throw unauthenticated('the session token is invalid, expired or ended (signed out, the password changed, or the signing secret rotated)',
        'log in again (d7y login, or POST /api/v1/users/signin)');
    }
    return {
      kind: 'user', tenantId: user.tenant_id, userId: user.id, name: user.name, role: user.role, scopes: ['job', 'cluster', 'persistent_cache'], sessionId: claims.sid,
    };
  }

  private async pat(token: string, now: number): Promise<Principal> {
    const row = await this.db.selectFrom('personal_access_tokens')
      .innerJoin('users', 'users.id', 'personal_access_tokens.user_id')
      .select(['personal_access_tokens.id', 'personal_access_tokens.tenant_id', 'personal_access_tokens.name',
        'personal_access_tokens.scopes', 'personal_access_tokens.state', 'personal_access_tokens.expires_at',
        'personal_access_tokens.last_used_at', 'users.id as user_id', 'users.role'])
      .where('token_hash', '=', hashAccessToken(token))
      .executeTakeFirst();
    if (!row) throw unauthenticated('the personal access token is not known to this manager', 'create a token with d7y token create');
    if (row.state !== 'active') {
      throw new D7yError('D7Y_PERMISSION_DENIED', `personal access token "${row.name}" is inactive`, { fix: 'activate it again or create a new token' });
    }
    if (row.expires_at <= now) {
      throw new D7yError('D7Y_PERMISSION_DENIED', `personal access token "${row.name}" has expired`, { fix: 'create a new token with d7y token create' });
    }
    if (!row.last_used_at || now - row.last_used_at > LAST_USED_RESOLUTION_MS) {
      void this.db.updateTable('personal_access_tokens').set({ last_used_at: now }).where('id', '=', row.id).execute().catch(() => undefined);
    }
    return {
      kind: 'pat', tenantId: row.tenant_id, userId: row.user_id, name: row.name, role: row.role,
      scopes: row.scopes.split(',').filter(Boolean) as TokenScope[],
    };
  }
}
