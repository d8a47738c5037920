import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { D7yError } from '../../../../errors/d7y-error.js';
import { hashPassword, verifyPassword } from '../../auth/credentials.js';
import { endSessions, openSession } from '../../auth/sessions.js';
import type { ManagerServices } from '../../manager-services.js';
import { route, type ManagerRoute } from '../manager-route.js';
import { tenantByName } from '../tenants.js';

const SignIn = z.strictObject({ name: z.string().min(1).max(255), password: z.string().min(1).max(1024) });
const NewPassword = z.strictObject({
  /** Whose password: the caller's when unset; another user's for root only. */
  user: z.string().min(1).max(255).optional(),
  /** The current password: required to change one's own. */
  old_password: z.string().min(1).max(1024).optional(),
  new_password: z.string().min(8, 'at least 8 characters').max(1024),
});
const NewUser = z.strictObject({
  name: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/, 'letters, digits, . _ - (at most 63)'),
  password: z.string().min(8).max(1024),
  /** The tenant the user belongs to; created when new. Defaults to the caller's tenant. */
  tenant: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and - (at most 63)').optional(),
});

/** Sign-in and sign-out, the caller's identity, password changes, users (created by root) and tenants. */
export function userRoutes(s: ManagerServices): ManagerRoute[] {
  return [
    route({
      method: 'post', path: '/api/v1/users/signin',
      summary: 'Sign in; returns a console session token (429 with Retry-After after too many failures for the user or the address)',
      auth: 'public', body: SignIn,
      async handle({ body, ip }) {
        const user = await s.db.selectFrom('users').selectAll().where('name', '=', body.name).executeTakeFirst();
        const ok = await s.logins.check(body.name, ip, body.password, user?.password_hash);
        if (!user || !ok) {
          throw new D7yError('D7Y_UNAUTHENTICATED', 'wrong user name or password', { fix: 'check the user name and password' });
        }
        await s.signer.refresh();
        const { token, expiresAt } = await openSession(s.db, s.signer, user.id, s.config.auth.sessionTtl);
        return { token, user: user.name, expires_at: new Date(expiresAt).toISOString() };
      },
    }),
    route({
      method: 'post', path: '/api/v1/users/signout', summary: 'End the session the call is made with', auth: 'session',
      async handle({ principal }) {
        await s.db.deleteFrom('sessions').where('id', '=', principal.sessionId ?? '').execute();
        return { signed_out: true };
      },
    }),
    route({
      method: 'put', path: '/api/v1/users/password',
      summary: 'Change one\'s own password (old_password required; other sessions end), or, as root, set another user\'s (all their sessions end)',
      auth: 'session', body: NewPassword,
      async handle({ principal, body }) {
        const name = body.user ?? principal.name;
        const self = name === principal.name;
        if (!self && principal.role !== 'root') {
          throw new D7yError('D7Y_PERMISSION_DENIED', `only root may set the password of another user ("${name}")`, { fix: 'leave out the user to change your own password' });
        }
        const user = await s.db.selectFrom('users').select(['id', 'password_hash', 'role']).where('name', '=', name).executeTakeFirst();
        if (!user) throw new D7yError('D7Y_NOT_FOUND', `no user "${name}"`, { fix: 'check the user name' });
        if (self) {
          if (!body.old_password) throw new D7yError('D7Y_INVALID_ARGUMENT', 'old_password is required to change your own password', { fix: 'send the current password as old_password' });
          if (!(await verifyPassword(body.old_password, user.password_hash))) {
            throw new D7yError('D7Y_PERMISSION_DENIED', 'the current password is wrong', { fix: 'give the password you signed in with' });
          }
        }
        await s.db.updateTable('users').set({ password_hash: await hashPassword(body.new_password) }).where('id', '=', user.id).execute();
        const ended = await endSessions(s.db, user.id, self ? principal.sessionId : undefined);
        s.logger.info({ user: name, by: principal.name, sessionsEnded: ended }, 'password changed');
        const warning = user.role === 'root' && s.config.rootPassword
          ? 'manager.rootPassword is set in this manager\'s config: its next start sets root\'s password back to it' : undefined;
        return { user: name, sessions_ended: ended, warning };
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
    route({
      method: 'get', path: '/api/v1/users', summary: 'List users with their role and tenant (root: every tenant; others: their own)', auth: 'session',
      async handle({ principal }) {
        let q = s.db.selectFrom('users').innerJoin('tenants', 'tenants.id', 'users.tenant_id')
          .select(['users.id', 'users.name', 'users.role', 'users.created_at', 'tenants.name as tenant']);
        if (principal.role !== 'root') q = q.where('users.tenant_id', '=', principal.tenantId);
        const rows = await q.orderBy('users.name').limit(1000).execute();
        return rows.map((r) => ({ id: r.id, name: r.name, role: r.role, tenant: r.tenant, created_at: new Date(r.created_at).toISOString() }));
      },
    }),
    route({
      method: 'get', path: '/api/v1/tenants', summary: 'List tenants with their user counts (root only)', auth: 'session', rootOnly: true,
      async handle() {
        const rows = await s.db.selectFrom('tenants').leftJoin('users', 'users.tenant_id', 'tenants.id')
          .select((eb) => ['tenants.id', 'tenants.name', 'tenants.created_at', eb.fn.count<number>('users.id').as('users')])
          .groupBy(['tenants.id', 'tenants.name', 'tenants.created_at']).orderBy('tenants.name').limit(1000).execute();
        return rows.map((r) => ({ id: r.id, name: r.name, users: Number(r.users), created_at: new Date(r.created_at).toISOString() }));
      },
    }),
  ];
}
