import { definePlugin } from '../../core/index.js';
import { ociPluginConfigSchema, type OciPluginConfig } from './oci-plugin-config.js';
import { OciSourceClient } from './oci-source-client.js';

export { OciSourceClient, type OciSourceOptions } from './oci-source-client.js';
export { ociBlobTaskKey } from './oci-blob-task-key.js';
export { writeOciLayout } from './oci-layout-writer.js';
export { parseOciUrl, OCI_URL_GRAMMAR, type OciUrl } from './oci-url.js';
export { ociPluginConfigSchema, type OciPluginConfig } from './oci-plugin-config.js';

/** The `oci` source plugin: `oci://` images and blobs from OCI distribution registries. */
export default definePlugin<OciPluginConfig>({
  manifest: {
    name: 'oci',
    version: '0.1.0',
    kind: 'source',
    apiVersion: '1',
    roles: ['peer', 'scheduler', 'manager'],
    provides: ['source:oci'],
    description: 'OCI registry images, manifests and blobs (oci://registry/repo:tag)',
  },
  parseConfig: (raw) => ociPluginConfigSchema.parse(raw ?? {}),
  register(ctx) {
    const c = ctx.config;
    const client = new OciSourceClient({
      credentials: new Map(Object.entries(c.auths).map(([k, v]) => [k.toLowerCase(), v])),
      insecureRegistries: c.insecureRegistries,
      platform: c.platform,
      timeoutMs: c.timeoutMs,
      maxRedirections: c.maxRedirections,
      maxManifestBytes: c.maxManifestBytes,
      monolithicUploadMaxBytes: c.monolithicUploadMaxSize,
      uploadChunkBytes: c.uploadChunkSize,
      logger: ctx.logger,
    });
    ctx.sources.add(client);
    ctx.lifecycle.add({ start: async () => undefined, stop: () => client.close() });
  },
});
