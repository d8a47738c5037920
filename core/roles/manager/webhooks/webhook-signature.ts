import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header that carries a delivery's signature: `t=<unix seconds>,v1=<hex HMAC-SHA256>`. */
export const SIGNATURE_HEADER = 'd7y-signature';

/** HMAC-SHA256 with the webhook's secret over `<t>.<raw body>`, as the header value. */
export function signWebhookPayload(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/**
 * Whether `header` signs `body` with `secret` and is no older than `toleranceSeconds` (replays of
 * an old delivery are refused). What a receiver does, in a few lines (see docs/webhooks.md).
 */
export function verifyWebhookSignature(secret: string, body: string, header: string, toleranceSeconds = 300, now = Date.now()): boolean {
  const parts = new Map(header.split(',').map((kv) => kv.split('=', 2) as [string, string]));
  const t = Number(parts.get('t'));
  const given = Buffer.from(parts.get('v1') ?? '', 'hex');
  if (!Number.isInteger(t) || Math.abs(now / 1000 - t) > toleranceSeconds) return false;
  const want = Buffer.from(signWebhookPayload(secret, body, t).split('v1=')[1]!, 'hex');
  return given.length === want.length && timingSafeEqual(given, want);
}
