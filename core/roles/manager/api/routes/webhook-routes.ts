import type { ManagerRoute } from '../manager-route.js';
import { randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { WebhookDeliveryTable, WebhookTable } from '../../database/schema.js';
import type { ManagerServices } from '../../manager-services.js';
import { WEBHOOK_EVENTS, type DeliveryAttempt } from '../../webhooks/webhook-events.js';
import { consoleAndOpen } from '../manager-route.js';

const NewWebhookSchema = z.strictObject({
  name: z.string().min(1).max(255).optional(),
  url: z.string().min(1).max(2048),
  events: z.array(z.enum(WEBHOOK_EVENTS)).min(1).max(WEBHOOK_EVENTS.length),
  /** Given by the caller, or generated (and then shown once, in the answer). */
  secret: z.string().min(16).max(128).optional(),
});

const DeliveryQuerySchema = z.strictObject({
  state: z.enum(['pending', 'delivered', 'failed']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

function webhookView(h: WebhookTable): Record<string, unknown> {
  return { id: h.id, name: h.name, url: h.url, events: JSON.parse(h.events) as string[], created_by: h.created_by, created_at: new Date(h.created_at).toISOString() };
}

function deliveryView(d: WebhookDeliveryTable): Record<string, unknown> {
  const attempts = JSON.parse(d.attempts) as DeliveryAttempt[];
  return {
    id: d.id, event: d.event, state: d.state, attempts, last_status: attempts.at(-1)?.status ?? null,
    next_attempt_at: d.state === 'pending' && d.next_at ? new Date(d.next_at).toISOString() : null,
    payload: JSON.parse(d.payload) as unknown, created_at: new Date(d.created_at).toISOString(),
  };
}

/** Webhook subscriptions (scope `job`): create, list, get, delete, and each one's delivery log. */
export function webhookRoutes(s: ManagerServices): ManagerRoute[] {
  return [
    ...consoleAndOpen('/api/v1/webhooks', '/oapi/v1/webhooks', 'job', {
      method: 'post', summary: 'Subscribe a URL (on an allowed host) to events; the answer shows the signing secret once', body: NewWebhookSchema, status: 201,
      async handle({ principal, body }) {
        const url = s.webhooks.allowList.check(body.url);
        const now = Date.now();
        const row: WebhookTable = {
          id: randomUUID(), tenant_id: principal.tenantId, name: body.name ?? url.host, url: url.toString(), events: JSON.stringify([...new Set(body.events)]),
          secret: body.secret ?? `whsec_${randomBytes(32).toString('base64url')}`, created_by: `${principal.kind}:${principal.name}`, created_at: now,
        };
        await s.db.insertInto('webhooks').values(row).execute();
        return { ...webhookView(row), secret: row.secret };
      },
    }),
    ...consoleAndOpen('/api/v1/webhooks', '/oapi/v1/webhooks', 'job', {
      method: 'get', summary: 'List the tenant\'s webhooks (without their secrets)',
      async handle({ principal }) {
        const rows = await s.db.selectFrom('webhooks').selectAll().where('tenant_id', '=', principal.tenantId).orderBy('created_at').execute();
        return rows.map(webhookView);
      },
    }),
    ...consoleAndOpen('/api/v1/webhooks/:id', '/oapi/v1/webhooks/:id', 'job', {
      method: 'get', summary: 'Get a webhook', resource: 'webhook',
      async handle({ params }) {
        return webhookView(await s.db.selectFrom('webhooks').selectAll().where('id', '=', params.id).executeTakeFirstOrThrow());
      },
    }),
    ...consoleAndOpen('/api/v1/webhooks/:id', '/oapi/v1/webhooks/:id', 'job', {
      method: 'delete', summary: 'Delete a webhook and its delivery log', resource: 'webhook',
      async handle({ params }) {
        await s.db.transaction().execute(async (trx) => {
          await trx.deleteFrom('webhook_deliveries').where('webhook_id', '=', params.id).execute();
          await trx.deleteFrom('webhooks').where('id', '=', params.id).execute();
        });
        return { id: params.id, deleted: true };
      },
    }),
    ...consoleAndOpen('/api/v1/webhooks/:id/deliveries', '/oapi/v1/webhooks/:id/deliveries', 'job', {
      method: 'get', summary: 'The webhook\'s delivery log, newest first: each event with its attempts and their answers', resource: 'webhook', query: DeliveryQuerySchema,
      async handle({ params, query }) {
        let q = s.db.selectFrom('webhook_deliveries').selectAll().where('webhook_id', '=', params.id);
        if (query.state) q = q.where('state', '=', query.state);
        return (await q.orderBy('seq', 'desc').limit(query.limit).execute()).map(deliveryView);
      },
    }),
  ];
}
