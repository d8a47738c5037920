import { Registry, collectDefaultMetrics } from 'prom-client';

/** A fresh prom-client registry per process or role; never the global default registry. */
export function createMetricsRegistry(options: { defaultMetrics?: boolean; prefix?: string } = {}): Registry {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: options.prefix ?? 'd7y_' });
  return registry;
}
