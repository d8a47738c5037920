/**
 * Lifecycle of anything that holds resources (sockets, files, timers).
 * `start` may be called once; `stop` must be safe to call twice and after a failed start.
 * Composites start children in order and stop them in reverse order.
 */
export interface Startable {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function isStartable(value: unknown): value is Startable {
  return typeof value === 'object' && value !== null
    && typeof (value as Startable).start === 'function' && typeof (value as Startable).stop === 'function';
}
