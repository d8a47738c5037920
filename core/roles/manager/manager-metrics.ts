import { Counter, Histogram, type Registry } from 'prom-client';

/** The manager's Prometheus metrics (`d7y_manager_…`, documented in docs/metrics.md), served at its `/metrics`. */
export class ManagerMetrics {
  readonly requests: Counter<'method' | 'route' | 'status'>;
  readonly seconds: Histogram<'method' | 'route'>;
  readonly errors: Counter<'code'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.requests = new Counter({ name: 'd7y_manager_http_requests_total', help: 'Manager API requests', labelNames: ['method', 'route', 'status'], registers });
    this.seconds = new Histogram({ name: 'd7y_manager_http_request_seconds', help: 'Manager API latency', labelNames: ['method', 'route'], registers });
    this.errors = new Counter({ name: 'd7y_manager_errors_total', help: 'Manager API errors answered, by d7y error code', labelNames: ['code'], registers });
  }
}
