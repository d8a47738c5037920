import { randomUUID } from 'node:crypto';
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import type { ManagerConfig } from '../../../config/manager-config.js';
import type { Logger } from '../../../logging/logger.js';
import type { ManagerDb } from '../database/manager-database.js';
import type { WebhookDeliveryTable, WebhookTable } from '../database/schema.js';
import { WebhookAllowList } from './webhook-allow-list.js';
import type { DeliveryAttempt, WebhookEvent } from './webhook-events.js';
import { SIGNATURE_HEADER, signWebhookPayload } from './webhook-signature.js';

const TICK_MS = 250;
const HEADS_SCANNED = 500;
const PARALLEL_WEBHOOKS = 8;
const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * Sends events to the webhooks subscribed to them: one delivery row per webhook and event, sent
 * in order per webhook (a delivery waits until the one before it is delivered or given up),
 * signed (webhook-signature.ts), retried with exponential back-off up to `maxAttempts`, each
 * attempt kept in the delivery log. Only addresses the allow-list admits are connected to, checked
 * again after DNS at every attempt. Several managers on one database share the work: a delivery
 * is leased by moving its `next_at` before it is sent.
 */
export class WebhookDispatcher {
  private readonly allow: WebhookAllowList;
  private timer?: NodeJS.Timeout;
  private running = false;
  private again = false;
  private stopped = false;
  private counter = 0;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly db: ManagerDb, private readonly config: ManagerConfig['webhooks'], private readonly logger: Logger) {
    this.allow = new WebhookAllowList(config.allowedHosts);
  }

  get allowList(): WebhookAllowList {
    return this.allow;
  }

  start(): void {
    this.timer = setInterval(() => this.kick(), TICK_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.all([...this.inFlight]);
  }

  /** Queues `event` for every webhook of the tenant subscribed to it; never throws (a failure is logged). */
  async emit(tenantId: string, event: WebhookEvent, data: Record<string, unknown>, now = Date.now()): Promise<void> {
    try {
      const hooks = await this.db.selectFrom('webhooks').selectAll().where('tenant_id', '=', tenantId).execute();
      const rows: WebhookDeliveryTable[] = hooks.filter((h) => (JSON.parse(h.events) as string[]).includes(event)).map((h) => {
        const id = randomUUID();
        const payload = JSON.stringify({ id, event, created_at: new Date(now).toISOString(), data });
        return {
          id, webhook_id: h.id, tenant_id: tenantId, seq: now * 1000 + (this.counter++ % 1000), event, payload,
          state: 'pending', attempts: '[]', next_at: now, created_at: now, updated_at: now,
        };
      });
      if (rows.length) await this.db.insertInto('webhook_deliveries').values(rows).execute();
      if (rows.length) this.kick();
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, event }, 'webhook event not queued');
    }
  }

  /** Looks for due deliveries now. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    const p = this.round().catch((err: unknown) => this.logger.warn({ err: (err as Error).message }, 'webhook round failed'))
      .finally(() => {
        this.running = false;
        this.inFlight.delete(p);
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
    this.inFlight.add(p);
  }

  /** Sends the head (oldest pending delivery) of each webhook when it is due. */
  private async round(): Promise<void> {
    const now = Date.now();
    const pending = await this.db.selectFrom('webhook_deliveries').selectAll().where('state', '=', 'pending')
      .orderBy('seq').limit(HEADS_SCANNED).execute();
    const heads = new Map<string, WebhookDeliveryTable>();
    for (const d of pending) if (!heads.has(d.webhook_id)) heads.set(d.webhook_id, d);
    const due = [...heads.values()].filter((d) => d.next_at <= now).slice(0, PARALLEL_WEBHOOKS);
    await Promise.all(due.map((d) => this.attempt(d, now)));
  }

  private async attempt(d: WebhookDeliveryTable, now: number): Promise<void> {
    const lease = now + this.config.timeout + 5_000;
    const took = await this.db.updateTable('webhook_deliveries').set({ next_at: lease })
      .where('id', '=', d.id).where('state', '=', 'pending').where('next_at', '=', d.next_at).executeTakeFirst();
    if (Number(took.numUpdatedRows) !== 1) return;
    const hook = await this.db.selectFrom('webhooks').selectAll().where('id', '=', d.webhook_id).executeTakeFirst();
    if (!hook) {
      await this.db.deleteFrom('webhook_deliveries').where('webhook_id', '=', d.webhook_id).execute();
      return;
    }
    const started = Date.now();
    const attempt: DeliveryAttempt = { at: new Date(started).toISOString(), duration_ms: 0 };
    try {
      attempt.status = await this.post(hook, d);
      if (attempt.status < 200 || attempt.status >= 300) attempt.error = `the receiver answered HTTP ${attempt.status}`;
    } catch (err) {
      attempt.error = (err as Error).message;
    }
    attempt.duration_ms = Date.now() - started;
    const attempts = [...JSON.parse(d.attempts) as DeliveryAttempt[], attempt];
    const delivered = !attempt.error;
    const givenUp = !delivered && attempts.length >= this.config.maxAttempts;
    const backoff = Math.min(this.config.maxBackoff, this.config.initialBackoff * 2 ** (attempts.length - 1));
    await this.db.updateTable('webhook_deliveries').set({
      state: delivered ? 'delivered' : givenUp ? 'failed' : 'pending', attempts: JSON.stringify(attempts),
      next_at: delivered || givenUp ? 0 : Date.now() + backoff, updated_at: Date.now(),
    }).where('id', '=', d.id).execute();
    if (givenUp) this.logger.warn({ webhook: hook.id, event: d.event, error: attempt.error }, 'webhook delivery given up');
    if (delivered || givenUp) {
      await this.prune(hook.id);
      this.again = true;
    }
  }

  /** One signed POST to the webhook, connected to the allow-listed address found after DNS; the receiver's status. */
  private async post(hook: WebhookTable, d: WebhookDeliveryTable): Promise<number> {
    const { url, address, family } = await this.allow.resolve(hook.url);
    const pinned: LookupFunction = (_host, opts, cb) => {
      if ((opts as { all?: boolean }).all) (cb as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address, family }]);
      else cb(null, address, family);
    };
    const body = d.payload;
    const options: RequestOptions = {
      method: 'POST', lookup: pinned, timeout: this.config.timeout, headers: {
        'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': 'd7y-manager',
        [SIGNATURE_HEADER]: signWebhookPayload(hook.secret, body, Math.floor(Date.now() / 1000)),
        'd7y-event': d.event, 'd7y-delivery': d.id, 'd7y-webhook': hook.id,
      },
    };
    return await new Promise<number>((resolve, reject) => {
      const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, options, (res) => {
        let read = 0;
        res.on('data', (c: Buffer) => {
          read += c.length;
          if (read > MAX_RESPONSE_BYTES) res.destroy();
        });
        res.on('close', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(res.statusCode ?? 0));
      });
      const deadline = setTimeout(() => req.destroy(new Error(`no answer within ${this.config.timeout} ms`)), this.config.timeout);
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.config.timeout} ms`)));
      req.on('error', (err) => reject(err));
      req.on('close', () => clearTimeout(deadline));
      req.end(body);
    });
  }

  /** Keeps the newest `logSize` ended deliveries of a webhook. */
  private async prune(webhookId: string): Promise<void> {
    const edge = await this.db.selectFrom('webhook_deliveries').select('seq').where('webhook_id', '=', webhookId)
      .orderBy('seq', 'desc').offset(this.config.logSize).limit(1).executeTakeFirst();
    if (edge) {
      await this.db.deleteFrom('webhook_deliveries').where('webhook_id', '=', webhookId).where('seq', '<=', edge.seq)
        .where('state', '!=', 'pending').execute();
    }
  }
}
