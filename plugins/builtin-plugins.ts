import type { D7yPlugin } from '../core/index.js';

/** A module whose default export is a plugin. */
export type PluginModule = { default: D7yPlugin<any> };

/**
 * Plugins shipped with d7y, by the name plugins.json uses. The only file of the host that imports
 * plugin packages; each entry is loaded lazily, so an unused plugin costs nothing.
 */
export const builtinPlugins: Record<string, () => Promise<PluginModule>> = {
  memory: () => import('../storage/memory/index.js'),
  disk: () => import('../storage/disk/index.js'),
  oci: () => import('../sources/oci/index.js'),
  maven: () => import('../sources/maven/index.js'),
  yum: () => import('../sources/yum/index.js'),
  default: () => import('../schedulers/default/index.js'),
  http: () => import('../sources/http/index.js'),
  s3: () => import('../sources/s3/index.js'),
  gcs: () => import('../sources/gcs/index.js'),
  hdfs: () => import('../sources/hdfs/index.js'),
  legacy: () => import('../schedulers/legacy/index.js'),
  throughput: () => import('../schedulers/throughput/index.js'),
};
