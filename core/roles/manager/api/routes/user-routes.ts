import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { D7yError } from '../../../../errors/d7y-error.js';
import { hashPassword, verifyPassword } from '../../auth/credentials.js';
import type { ManagerServices } from '../../manager-services.js';
import { route, type ManagerRoute } from '../manager-route.js';
import { tenantByName } from '../tenants.js';

const SignIn = z.strictObject({ name: z.string().min(1).max(255), password: z.string().min(1).max(1024) });
const NewUser = z.strictObject({
  name: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/, 'letters, digits, . _ - (at most 63)'),
  password: z.string().min(8).max(1024),
  /** The tenant the user belongs to; created when new. Defaults to the caller's tenant. */
  tenant: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and - (at most 63)').optional(),
});

/** Sign-in, the caller's identity, and user creation (root only). */
export function userRoutes(s: ManagerServices): ManagerRoute[] {
  return [
    route({
      method: 'post', path: '/api/v1/users/signin', summary: 'Sign in; returns a console session token', auth: 'public', body: SignIn,
      async handle({ body }) {
        const user = await s.db.selectFrom('users').selectAll().where('name', '=', body.name).executeTakeFirst();
        if (!user || !(await verifyPassword(body.password, user.password_hash))) {
          throw new D7yError('D7Y_UNAUTHENTICATED', 'wrong user name or password', { fix: 'check the user name and password' });
        }
        const expiresAt = Date.now() + s.config.auth.sessionTtl;
        return { token: s.signer.sign({ sub: user.id, exp: expiresAt }), expires_at: new Date(expiresAt).toISOString() };
      },
    }),
    route({
      method: 'get', path: '/api/v1/users/me', summary: 'The signed-in user', auth: 'session',
      async handle({ principal }) {
        const tenant = await s.db.selectFrom('tenants').select('name').where('id', '=', principal.tenantId).executeTakeFirstOrThrow();
        return { id: principal.userId, name: principal.name, role: principal.role, tenant: tenant.name };
      },
    }),
    route({
      method: 'post', path: '/api/v1/users', summary: 'Create a user (root only), in a new or existing tenant', auth: 'session',
      rootOnly: true, body: NewUser, status: 201,
      async handle({ body, principal }) {
        const taken = await s.db.selectFrom('users').select('id').where('name', '=', body.name).executeTakeFirst();
        if (taken) throw new D7yError('D7Y_CONFLICT', `user "${body.name}" exists`, { fix: 'choose another name' });
        const tenantId = body.tenant ? (await tenantByName(s.db, body.tenant, true)).id : principal.tenantId;
        const id = randomUUID();
        await s.db.insertInto('users').values({
          id, tenant_id: tenantId, name: body.name, password_hash: await hashPassword(body.password), role: 'user', created_at: Date.now(),
        }).execute();
        return { id, name: body.name, role: 'user', tenant: body.tenant ?? undefined };
      },
    }),
  ];
}
