import { definePlugin } from '../../core/index.js';
import { HttpSourceClient } from './http-source-client.js';
import { httpSourceConfigSchema, type HttpSourceConfig } from './http-source-config.js';

export { HttpSourceClient } from './http-source-client.js';
export { httpSourceConfigSchema, defaultHttpSourceConfig, type HttpSourceConfig } from './http-source-config.js';
export { redactUrl } from './redact-url.js';

/** The `http` source plugin: back-to-source for `http://` and `https://` URLs. */
export default definePlugin<HttpSourceConfig>({
  manifest: {
    name: 'http',
    version: '0.1.0',
    kind: 'source',
    apiVersion: '1',
    roles: ['peer', 'scheduler', 'manager'],
    provides: ['source:http', 'source:https'],
    description: 'HTTP(S) origins over undici with keep-alive, ranges, redirects and retries',
  },
  parseConfig: (raw: unknown) => httpSourceConfigSchema.parse(raw ?? {}),
  register(ctx) {
    const client = new HttpSourceClient(ctx.config, ctx.logger);
    ctx.sources.add(client);
    ctx.lifecycle.add(client);
  },
});
