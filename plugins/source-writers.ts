import type { Logger } from '../core/index.js';
import type { NodeConfig } from '../core/config/node-config.js';
import { createMetricsRegistry } from '../core/metrics/metrics.js';
import { EvaluatorRegistry } from '../core/registry/evaluator-registry.js';
import { SourceRouter } from '../core/registry/source-router.js';
import { StorageRegistry } from '../core/registry/storage-registry.js';
import { Lifecycle } from '../core/roles/lifecycle.js';
import { PluginHost } from './plugin-host.js';
import { pluginDirOf } from './node-runner.js';
import { locatePluginsFile, readPluginsFile } from './plugins-file.js';

/** The source plugins of a peer, loaded in this process to write (`put`, `delete`) to an origin. */
export interface LoadedSources {
  sources: SourceRouter;
  /** Stops the plugins' resources. */
  close(): Promise<void>;
}

/**
 * Loads the source plugins that a peer with `config` would load (plugins.json as the peer finds
 * it), without starting a peer: `d7y sync` writes to object stores and HDFS through them. Plugin
 * problems fail once, listing every problem, as a peer's start does.
 */
export async function loadSourcePlugins(config: NodeConfig, logger: Logger, pluginsFile?: string): Promise<LoadedSources> {
  const file = locatePluginsFile(pluginsFile ?? config.pluginsFile);
  const host = new PluginHost(file, await readPluginsFile(file), { pluginDir: pluginDirOf(config), logger });
  const sources = new SourceRouter();
  const lifecycle = new Lifecycle();
  const { problems } = await host.registerRole('peer', {
    sources, evaluators: new EvaluatorRegistry(), storage: new StorageRegistry(), lifecycle, logger,
    metrics: createMetricsRegistry(), dataDir: config.dataDir,
  });
  host.assertNoErrors(problems);
  await lifecycle.start();
  return { sources, close: () => lifecycle.stop() };
}
