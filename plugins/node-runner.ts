import { ensurePrivateDir } from '../core/config/private-dir.js';
import { join } from 'node:path';
import { Tokens } from '../core/tokens.js';
import type { Logger, RoleName, Startable } from '../core/index.js';
import type { NodeConfig } from '../core/config/node-config.js';
import { PluginHost } from './plugin-host.js';
import type { PluginProblem } from './plugin-problem.js';
import { locatePluginsFile, readPluginsFile } from './plugins-file.js';
import { composeRole, type ComposedRole } from './role-composer.js';
import { startTracing } from '../core/logging/tracing.js';

/** One role to run in this process, with its own config (two peers may share a process). */
export interface RoleSpec {
  role: RoleName;
  config: NodeConfig;
  label?: string;
  /**
   * Runs once the roles before this one have started and before this one starts. It may set, in
   * `config`, what the role reads only when it starts (the `manager` link of schedulers and peers).
   * A throw stops the roles already started and fails the start.
   */
  prepare?: (started: readonly ComposedRole[]) => Promise<void>;
}

/**
 * Composes the given roles from plugins.json and runs them: plugin resources start before their
 * role, roles start in the given order (each after its `prepare`) and stop in reverse. Every
 * plugin problem of every role is reported at once, before anything starts.
 */
export class NodeRunner implements Startable {
  private composed: ComposedRole[] = [];
  private started: Startable[] = [];

  constructor(private readonly specs: RoleSpec[], private readonly logger: Logger, private readonly pluginsFile?: string) {}

  /** Loads and checks everything without starting; returns the composed roles. */
  async compose(): Promise<ComposedRole[]> {
    const file = locatePluginsFile(this.pluginsFile ?? this.specs[0]?.config.pluginsFile);
    const plugins = await readPluginsFile(file);
    const host = new PluginHost(file, plugins, { pluginDir: pluginDirOf(this.specs[0]?.config), logger: this.logger });
    const problems: PluginProblem[] = [];
    const composed: ComposedRole[] = [];
    for (const spec of this.specs) {
      const result = await composeRole(host, spec.role, spec.config, this.logger, spec.label ?? spec.role);
      for (const p of result.problems) {
        if (!problems.some((q) => q.plugin === p.plugin && q.message === p.message)) problems.push(p);
      }
      if (result.composed) composed.push(result.composed);
    }
    host.assertNoErrors(problems);
    this.composed = composed;
    return composed;
  }

  get roles(): ComposedRole[] {
    return this.composed;
  }

  async start(): Promise<void> {
    if (!this.composed.length) await this.compose();
    // Tracing (process-wide, off unless configured) is up before any role takes a request, and flushed after the last stops.
    const tracing = this.specs[0] && await startTracing(this.specs[0].config.tracing);
    if (tracing) this.started.push({ start: async () => undefined, stop: () => tracing.shutdown() });
    for (const [i, c] of this.composed.entries()) {
      try {
        await this.specs[i]?.prepare?.(this.composed.slice(0, i));
        await ensurePrivateDir(c.container.resolve<string>(Tokens.DataDir));
        await c.lifecycle.start();
        this.started.push(c.lifecycle);
        await c.role.start();
        this.started.push(c.role);
      } catch (err) {
        await this.stop().catch(() => undefined);
        throw err;
      }
    }
  }

  /**
   * Drains every started role at once (each stops taking new work and lets the work in flight
   * finish, bounded by its own time-out); `stop` follows. A role's failure to drain is logged.
   */
  async drain(): Promise<void> {
    await Promise.all(this.composed.map(async (c) => {
      try {
        await c.role.drain?.();
      } catch (err) {
        this.logger.warn({ role: c.label, err: (err as Error).message }, 'the role could not drain; stopping it anyway');
      }
    }));
  }

  async stop(): Promise<void> {
    const errors: unknown[] = [];
    for (const s of this.started.reverse()) {
      try {
        await s.stop();
      } catch (err) {
        errors.push(err);
      }
    }
    this.started = [];
    if (errors.length) throw new AggregateError(errors, 'some roles failed to stop cleanly');
  }
}

/** The plugin directory `d7y plugin add` installs into: config.pluginDir, else <dataDir>/plugins. */
export function pluginDirOf(config: NodeConfig | undefined): string | undefined {
  if (!config) return undefined;
  return config.pluginDir ?? join(config.dataDir, 'plugins');
}
