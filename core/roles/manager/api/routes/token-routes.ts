import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { D7yError } from '../../../../errors/d7y-error.js';
import { newAccessToken } from '../../auth/credentials.js';
import type { PersonalAccessTokenTable } from '../../database/schema.js';
import type { ManagerServices } from '../../manager-services.js';
import { route, TOKEN_SCOPES, type ManagerRoute } from '../manager-route.js';

const DAY = 24 * 3600_000;
const NewToken = z.strictObject({
  name: z.string().min(1).max(255),
  scopes: z.array(z.enum(TOKEN_SCOPES as ['job', 'cluster', 'persistent_cache', 'seed'])).min(1).default(['job', 'cluster', 'persistent_cache']),
  /** Lifetime in days (default 30). */
  expires_in_days: z.number().int().min(1).max(3650).default(30),
});
const UpdateToken = z.strictObject({ state: z.enum(['active', 'inactive']) });

/** A token as listings show it: never the token or its hash. */
export function tokenView(t: PersonalAccessTokenTable): Record<string, unknown> {
  return {
    id: t.id, name: t.name, prefix: t.token_prefix, scopes: t.scopes.split(','), state: t.state,
    expires_at: new Date(t.expires_at).toISOString(), created_at: new Date(t.created_at).toISOString(),
    last_used_at: t.last_used_at ? new Date(t.last_used_at).toISOString() : null,
  };
}

/** Personal access tokens of the caller's tenant: create (shown once), list, (de)activate, revoke. */
export function tokenRoutes(s: ManagerServices): ManagerRoute[] {
  return [
    route({
      method: 'post', path: '/api/v1/personal-access-tokens', summary: 'Create a personal access token (shown once)',
      auth: 'session', body: NewToken, status: 201,
      async handle({ body, principal }) {
        const ttl = body.expires_in_days * DAY;
        if (ttl > s.config.auth.maxTokenTtl) {
          throw new D7yError('D7Y_INVALID_ARGUMENT', `expires_in_days ${body.expires_in_days} exceeds this manager's limit`, {
            fix: `use at most ${Math.floor(s.config.auth.maxTokenTtl / DAY)} days`,
          });
        }
        const { token, hash, prefix } = newAccessToken();
        const now = Date.now();
        const row: PersonalAccessTokenTable = {
          id: randomUUID(), tenant_id: principal.tenantId, user_id: principal.userId, name: body.name, token_hash: hash,
          token_prefix: prefix, scopes: [...new Set(body.scopes)].sort().join(','), state: 'active', expires_at: now + ttl,
          created_at: now, last_used_at: null,
        };
        await s.db.insertInto('personal_access_tokens').values(row).execute();
        return { ...tokenView(row), token };
      },
    }),
    route({
      method: 'get', path: '/api/v1/personal-access-tokens', summary: 'List the tenant\'s personal access tokens', auth: 'session',
      async handle({ principal }) {
        const rows = await s.db.selectFrom('personal_access_tokens').selectAll().where('tenant_id', '=', principal.tenantId)
          .orderBy('created_at', 'desc').limit(1000).execute();
        return rows.map(tokenView);
      },
    }),
    route({
      method: 'patch', path: '/api/v1/personal-access-tokens/:id', summary: 'Activate or deactivate a token', auth: 'session',
      resource: 'token', body: UpdateToken,
      async handle({ body, params }) {
        await s.db.updateTable('personal_access_tokens').set({ state: body.state }).where('id', '=', params.id).execute();
        return tokenView(await s.db.selectFrom('personal_access_tokens').selectAll().where('id', '=', params.id).executeTakeFirstOrThrow());
      },
    }),
    route({
      method: 'delete', path: '/api/v1/personal-access-tokens/:id', summary: 'Revoke (delete) a token', auth: 'session', resource: 'token',
      async handle({ params }) {
        await s.db.deleteFrom('personal_access_tokens').where('id', '=', params.id).execute();
        return { id: params.id, revoked: true };
      },
    }),
  ];
}
