/** The events a webhook may subscribe to. */
export const WEBHOOK_EVENTS = ['job.succeeded', 'job.failed', 'sync.run.finished', 'peer.offline', 'scheduler.offline', 'command.finished'] as const;
export type WebhookEvent = typeof WEBHOOK_EVENTS[number];

/** One attempt at a delivery, as the delivery log shows it. */
export interface DeliveryAttempt {
  at: string;
  /** The receiver's HTTP status, when it answered. */
  status?: number;
  error?: string;
  duration_ms: number;
}
