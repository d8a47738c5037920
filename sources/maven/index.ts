import { definePlugin } from '../../core/index.js';
import { mavenPluginConfigSchema, type MavenPluginConfig } from './maven-plugin-config.js';
import { MavenSourceClient } from './maven-source-client.js';

export { MavenSourceClient, type MavenSourceOptions, type MavenRepository } from './maven-source-client.js';
export { parseMavenUrl, formatMavenUrl, MAVEN_URL_GRAMMAR, type MavenUrl } from './maven-url.js';
export { mavenPluginConfigSchema, type MavenPluginConfig } from './maven-plugin-config.js';

/** The `maven` source plugin: `maven://groupId:artifactId:version` files of Maven repositories. */
export default definePlugin<MavenPluginConfig>({
  manifest: {
    name: 'maven',
    version: '0.1.0',
    kind: 'source',
    apiVersion: '1',
    roles: ['peer', 'scheduler', 'manager'],
    provides: ['source:maven'],
    description: 'Maven repository artifacts by coordinates (maven://g:a:v[:classifier][@ext])',
  },
  parseConfig: (raw) => mavenPluginConfigSchema.parse(raw ?? {}),
  register(ctx) {
    const client = new MavenSourceClient({ repositories: ctx.config.repositories, timeoutMs: ctx.config.timeoutMs });
    ctx.sources.add(client);
    ctx.lifecycle.add({ start: async () => undefined, stop: () => client.close() });
  },
});
