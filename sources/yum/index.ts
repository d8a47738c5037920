import { definePlugin } from '../../core/index.js';
import { yumPluginConfigSchema, type YumPluginConfig } from './yum-plugin-config.js';
import { YumSourceClient } from './yum-source-client.js';

export { YumSourceClient, type YumSourceOptions } from './yum-source-client.js';
export { parseYumUrl, YUM_URL_GRAMMAR, type YumUrl } from './yum-url.js';
export { rpmVersionCompare } from './yum-package-match.js';
export { yumPluginConfigSchema, type YumPluginConfig } from './yum-plugin-config.js';

/** The `yum` source plugin: packages of YUM/DNF repositories (`yum://host/repo/<package>`). */
export default definePlugin<YumPluginConfig>({
  manifest: {
    name: 'yum',
    version: '0.1.0',
    kind: 'source',
    apiVersion: '1',
    roles: ['peer', 'scheduler', 'manager'],
    provides: ['source:yum'],
    description: 'YUM/DNF repository packages (yum://host/path/to/repo/<package>)',
  },
  parseConfig: (raw) => yumPluginConfigSchema.parse(raw ?? {}),
  register(ctx) {
    const c = ctx.config;
    const client = new YumSourceClient({ credentials: c.credentials, arches: c.arches, timeoutMs: c.timeoutMs, maxMetadataBytes: c.maxMetadataBytes });
    ctx.sources.add(client);
    ctx.lifecycle.add({ start: async () => undefined, stop: () => client.close() });
  },
});
