import { createMetricsRegistry } from '../core/metrics/metrics.js';
import { EvaluatorRegistry } from '../core/registry/evaluator-registry.js';
import { Lifecycle } from '../core/roles/lifecycle.js';
import { SourceRouter } from '../core/registry/source-router.js';
import { StorageRegistry } from '../core/registry/storage-registry.js';
import type { Logger, PluginManifest } from '../core/index.js';
import type { NodeConfig } from '../core/config/node-config.js';
import { PluginHost, type PhaseResult } from './plugin-host.js';
import type { PluginProblem } from './plugin-problem.js';
import type { PluginsFile } from './plugins-file.js';
import { pluginDirOf } from './node-runner.js';

export interface VerifyReport {
  name: string;
  origin: string;
  manifest?: PluginManifest;
  rows: PhaseResult[];
  problems: PluginProblem[];
  ok: boolean;
}

/**
 * Runs the loading phases for one plugin of a plugins.json — in every role it serves, alongside the
 * other enabled plugins so duplicates are caught — without starting anything.
 */
export async function verifyPlugin(file: string, plugins: PluginsFile, name: string, config: NodeConfig, logger: Logger): Promise<VerifyReport> {
  const host = new PluginHost(file, plugins, { pluginDir: pluginDirOf(config), logger });
  const rec = (await host.loadModules(name)).find((r) => r.entry.name === name);
  if (!rec) throw new Error(`plugin ${name} is not in ${file}`);
  const rows: PhaseResult[] = [...rec.results];
  const problems: PluginProblem[] = [];
  if (rec.plugin) {
    for (const role of host.rolesOf(rec)) {
      const reg = {
        sources: new SourceRouter(), evaluators: new EvaluatorRegistry(), storage: new StorageRegistry(),
        lifecycle: new Lifecycle(), logger, metrics: createMetricsRegistry(), dataDir: config.dataDir,
      };
      const { problems: found, results } = await host.registerRole(role, reg, name);
      rows.push(...(results.get(name) ?? []).slice(rec.results.length));
      problems.push(...found.filter((p) => p.plugin === name));
    }
  } else {
    problems.push(...rec.results.filter((r) => !r.ok).map((r) => ({
      plugin: name, phase: r.phase, path: `plugins[${rec.index}]`, message: r.message, fix: r.fix ?? '', severity: 'error' as const,
    })));
  }
  return { name, origin: rec.origin, manifest: rec.plugin?.manifest, rows, problems, ok: rows.every((r) => r.ok) };
}
