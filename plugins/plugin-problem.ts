import { D7yError } from '../core/index.js';

export const PLUGIN_PHASES = ['resolve', 'export', 'manifest', 'apiVersion', 'config', 'register', 'capability', 'duplicate'] as const;
export type PluginPhase = (typeof PLUGIN_PHASES)[number] | 'scheduler';

/** One thing wrong with one plugin, located precisely enough to fix. */
export interface PluginProblem {
  plugin: string;
  phase: PluginPhase;
  /** JSON path in plugins.json, e.g. `plugins[2].config.region`. */
  path: string;
  message: string;
  fix: string;
  /** `continue` problems are reported but do not fail the start. */
  severity: 'error' | 'warning';
}

export function formatProblem(p: PluginProblem): string {
  return `plugin "${p.plugin}" [${p.phase}] at ${p.path}: ${p.message}\n    fix: ${p.fix}`;
}

/** Every problem of a start, reported at once. */
export class PluginLoadError extends D7yError {
  readonly problems: PluginProblem[];

  constructor(file: string, problems: PluginProblem[]) {
    const n = problems.length;
    super('D7Y_PLUGIN_LOAD_FAILED',
      `${n} plugin problem${n === 1 ? '' : 's'} in ${file}:\n  - ${problems.map(formatProblem).join('\n  - ')}`,
      { fix: 'fix each problem listed above; `d7y plugin verify <name>` shows the phases of one plugin', details: { problems } });
    this.problems = problems;
  }
}
