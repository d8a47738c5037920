import { join } from 'node:path';
import type { Registry } from 'prom-client';
import {
  D7yError, isDefinedPlugin, PLUGIN_API_VERSIONS,
  type D7yPlugin, type Logger, type PluginContext, type RoleName, type Evaluator, type SourceClient, type Startable, type StorageMedium,
} from '../core/index.js';
import { formatPath } from '../core/config/config-loader.js';
import { Lifecycle } from '../core/roles/lifecycle.js';
import type { EvaluatorRegistry } from '../core/registry/evaluator-registry.js';
import type { SourceRouter } from '../core/registry/source-router.js';
import type { StorageRegistry } from '../core/registry/storage-registry.js';
import { ManifestSchema } from './manifest-schema.js';
import type { PluginEntry, PluginsFile } from './plugins-file.js';
import { type PluginPhase, type PluginProblem, PluginLoadError } from './plugin-problem.js';
import { importPackage, pluginSearchDirs, resolvePlugin } from './plugin-resolver.js';

/** The outcome of one phase for one plugin, as `d7y plugin verify` shows it. */
export interface PhaseResult {
  phase: PluginPhase;
  role?: RoleName;
  ok: boolean;
  message: string;
  fix?: string;
}

export interface ModuleRecord {
  entry: PluginEntry;
  index: number;
  results: PhaseResult[];
  plugin?: D7yPlugin;
  origin: string;
}

/** What a role gets from its plugins. */
export interface RoleRegistries {
  sources: SourceRouter;
  evaluators: EvaluatorRegistry;
  storage: StorageRegistry;
  lifecycle: Lifecycle;
  logger: Logger;
  metrics: Registry;
  dataDir: string;
}

const REGISTER_TIMEOUT_MS = 30_000;

function issuesOf(err: unknown): { path: PropertyKey[]; message: string }[] | undefined {
  const issues = (err as { issues?: unknown })?.issues;
  return Array.isArray(issues) ? issues as { path: PropertyKey[]; message: string }[] : undefined;
}

function lateAddError(plugin: string, role: RoleName, point: string): D7yError {
  return new D7yError('D7Y_PLUGIN_INVALID',
    `plugin "${plugin}" called ${point}() in the ${role} role after its register() had returned; nothing is added that late`, {
      fix: `make register() add everything before it returns: await the work inside register() (return its promise) instead of calling ${point}() from a timer or an unawaited promise`,
    });
}

/** The extension points one plugin registers through in one role; after `close()` every add throws. */
function contextFor(name: string, role: RoleName, config: unknown, reg: RoleRegistries) {
  const added = { sources: [] as SourceClient[], evaluators: [] as Evaluator[], storage: [] as StorageMedium[] };
  const resources = new Lifecycle();
  let open = true;
  const whileOpen = <T>(point: string, add: (item: T) => void) => (item: T): void => {
    if (!open) throw lateAddError(name, role, point);
    add(item);
  };
  const ctx: PluginContext = {
    pluginName: name, role, config, metrics: reg.metrics,
    logger: reg.logger.child({ plugin: name }),
    dataDir: join(reg.dataDir, 'plugin-data', name.replace(/[/@]/g, '_')),
    sources: { add: whileOpen<SourceClient>('ctx.sources.add', (c) => added.sources.push(c)) },
    evaluators: { add: whileOpen<Evaluator>('ctx.evaluators.add', (e) => added.evaluators.push(e)) },
    storage: { add: whileOpen<StorageMedium>('ctx.storage.add', (m) => added.storage.push(m)) },
    lifecycle: { add: whileOpen<Startable>('ctx.lifecycle.add', (r) => resources.add(r)) },
  };
  return { ctx, added, resources, close: () => { open = false; } };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0] : String(err);
}

/**
 * Loads the plugins of a plugins.json in phases — resolve, export, manifest, apiVersion (once per
 * plugin), then config, register, capability, duplicate (per role) — and reports every problem
 * with the plugin, the phase, the JSON path and the fix. The same code serves `d7y plugin verify`.
 */
export class PluginHost {
  private readonly modules = new Map<string, ModuleRecord>();

  constructor(
    readonly file: string,
    readonly plugins: PluginsFile,
    private readonly options: { pluginDir?: string; logger: Logger },
  ) {}

  /** Resolves and checks every enabled plugin module, plus `extra` even when disabled, once each (cached). */
  async loadModules(extra?: string): Promise<ModuleRecord[]> {
    const dirs = pluginSearchDirs(this.options.pluginDir);
    const out: ModuleRecord[] = [];
    for (const [index, entry] of this.plugins.plugins.entries()) {
      if (!entry.enabled && entry.name !== extra) continue;
      let rec = this.modules.get(entry.name);
      if (!rec) {
        rec = await this.loadModule(entry, index, dirs);
        this.modules.set(entry.name, rec);
      }
      out.push(rec);
    }
    return out;
  }

  private async loadModule(entry: PluginEntry, index: number, dirs: string[]): Promise<ModuleRecord> {
    const at = `plugins[${index}]`;
    const rec: ModuleRecord = { entry, index, results: [], origin: 'unresolved' };
    const fail = (phase: PluginPhase, message: string, fix: string) => rec.results.push({ phase, ok: false, message, fix });
    const pass = (phase: PluginPhase, message: string) => rec.results.push({ phase, ok: true, message });

    const res = resolvePlugin(entry.name, entry.package, dirs);
    let mod: unknown;
    if (res.kind === 'missing') {
      fail('resolve', `package "${res.packageName}" is not installed (looked in ${res.searched.join(', ')})`,
        `install it with \`d7y plugin add ${res.packageName}\` (or \`npm install ${res.packageName}\`), or set "package" at ${at}`);
      return rec;
    }
    try {
      if (res.kind === 'builtin') {
        rec.origin = `built-in`;
        mod = await res.load();
      } else {
        rec.origin = `${res.packageName}@${res.version ?? '?'} (${res.dir})`;
        mod = await importPackage(res.entry);
      }
      pass('resolve', rec.origin);
    } catch (err) {
      const where = res.kind === 'package' ? `is installed at ${res.dir} but ` : '';
      fail('resolve', `plugin ${where}failed to load: ${messageOf(err)}`,
        /Cannot find (package|module)/.test(messageOf(err))
          ? `install the plugin's missing dependency (npm install in ${res.kind === 'package' ? res.dir : 'the plugin'}), or reinstall the plugin`
          : 'fix the error in the plugin module shown above, or disable it in plugins.json');
      return rec;
    }

    const candidate = (mod as { default?: unknown }).default;
    if (typeof candidate !== 'object' || candidate === null || typeof (candidate as D7yPlugin).register !== 'function') {
      fail('export', 'the module has no default export with a register() function',
        'export the plugin as the default export: `export default definePlugin({ manifest, register })`');
      return rec;
    }
    pass('export', isDefinedPlugin(candidate)
      ? 'default export is a plugin made by definePlugin'
      : 'default export is a plain plugin object (not made by definePlugin; checked the same way)');
    const plugin = candidate as D7yPlugin;

    const manifest = ManifestSchema.safeParse(plugin.manifest);
    if (!manifest.success) {
      for (const issue of manifest.error.issues) {
        fail('manifest', `manifest${issue.path.length ? `.${formatPath(issue.path)}` : ''}: ${issue.message}`,
          'correct the plugin manifest (name, version, kind, apiVersion, roles, provides)');
      }
      return rec;
    }
    if (manifest.data.name !== entry.name) {
      fail('manifest', `plugins.json calls it "${entry.name}" but its manifest name is "${manifest.data.name}"`,
        `set "name": "${manifest.data.name}" at ${at}.name`);
      return rec;
    }
    const badRoles = (entry.roles ?? []).filter((r) => !manifest.data.roles.includes(r));
    if (badRoles.length) {
      fail('manifest', `roles ${badRoles.join(', ')} are not supported by the plugin (it supports ${manifest.data.roles.join(', ')})`,
        `remove them from ${at}.roles`);
      return rec;
    }
    pass('manifest', `${manifest.data.kind} ${manifest.data.name}@${manifest.data.version} provides ${manifest.data.provides.join(', ')}`);

    if (!(PLUGIN_API_VERSIONS as readonly string[]).includes(manifest.data.apiVersion)) {
      fail('apiVersion', `plugin API version "${manifest.data.apiVersion}" is not supported by this d7y (supported: ${PLUGIN_API_VERSIONS.join(', ')})`,
        'install a version of the plugin built for this d7y, or upgrade d7y');
      return rec;
    }
    pass('apiVersion', manifest.data.apiVersion);
    rec.plugin = plugin;
    return rec;
  }

  /** The roles a loaded plugin serves: its entry's roles, else every role its manifest supports. */
  rolesOf(rec: ModuleRecord): RoleName[] {
    return rec.entry.roles ?? rec.plugin?.manifest.roles ?? [];
  }

  /**
   * Registers every enabled plugin that serves `role` into the role's registries and returns the
   * problems found (errors and, for `onFailure: continue`, warnings). Also checks `requires`.
   */
  async registerRole(role: RoleName, reg: RoleRegistries, extra?: string): Promise<{ problems: PluginProblem[]; results: Map<string, PhaseResult[]> }> {
    const problems: PluginProblem[] = [];
    const results = new Map<string, PhaseResult[]>();
    const provided = new Set<string>();
    const loaded: ModuleRecord[] = [];
    for (const rec of await this.loadModules(extra)) {
      const list = [...rec.results];
      results.set(rec.entry.name, list);
      if (rec.plugin && !this.rolesOf(rec).includes(role)) continue;
      if (rec.plugin) {
        const ok = await this.registerOne(rec, role, reg, list);
        if (ok) {
          rec.plugin.manifest.provides.forEach((c) => provided.add(c));
          loaded.push(rec);
        }
      }
      this.collect(rec, list, problems);
    }
    for (const rec of loaded) {
      const missing = (rec.plugin?.manifest.requires ?? []).filter((c) => !provided.has(c));
      const list = results.get(rec.entry.name) ?? [];
      if (missing.length) {
        const r: PhaseResult = { phase: 'capability', role, ok: false,
          message: `requires ${missing.join(', ')}, which no plugin loaded in the ${role} role provides`,
          fix: `add and enable a plugin providing ${missing.join(', ')} for the ${role} role` };
        list.push(r);
        this.collect(rec, [r], problems);
      }
    }
    return { problems, results };
  }

  private collect(rec: ModuleRecord, list: PhaseResult[], problems: PluginProblem[]): void {
    for (const r of list) {
      if (r.ok || problems.some((p) => p.plugin === rec.entry.name && p.message === r.message)) continue;
      problems.push({
        plugin: rec.entry.name, phase: r.phase, path: this.pathFor(rec, r.phase), message: r.message,
        fix: r.fix ?? '', severity: rec.entry.onFailure === 'continue' ? 'warning' : 'error',
      });
    }
  }

  private pathFor(rec: ModuleRecord, phase: PluginPhase): string {
    const at = `plugins[${rec.index}]`;
    if (phase === 'config') return `${at}.config`;
    if (phase === 'resolve') return rec.entry.package ? `${at}.package` : `${at}.name`;
    return at;
  }

  private async registerOne(rec: ModuleRecord, role: RoleName, reg: RoleRegistries, list: PhaseResult[]): Promise<boolean> {
    const plugin = rec.plugin as D7yPlugin;
    const name = rec.entry.name;
    const at = `plugins[${rec.index}].config`;
    let config: unknown = rec.entry.config ?? {};
    try {
      if (plugin.parseConfig) config = plugin.parseConfig(rec.entry.config ?? {});
      else if (rec.entry.config !== undefined && Object.keys(rec.entry.config as object).length) {
        throw new Error('this plugin takes no config');
      }
      list.push({ phase: 'config', role, ok: true, message: 'valid' });
    } catch (err) {
      const issues = issuesOf(err);
      if (issues?.length) {
        for (const i of issues) {
          list.push({ phase: 'config', role, ok: false, message: `${at}${i.path.length ? `.${formatPath(i.path)}` : ''}: ${i.message}`,
            fix: `correct ${at}${i.path.length ? `.${formatPath(i.path)}` : ''} in plugins.json (see \`d7y plugin info ${name}\`)` });
        }
      } else {
        list.push({ phase: 'config', role, ok: false, message: `${at}: ${messageOf(err)}`, fix: `correct ${at} in plugins.json` });
      }
      return false;
    }

    const { ctx, added, resources, close } = contextFor(name, role, config, reg);
    try {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.resolve(plugin.register(ctx)),
        new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`register() did not finish within ${REGISTER_TIMEOUT_MS / 1000} s`)), REGISTER_TIMEOUT_MS); }),
      ]).finally(() => clearTimeout(timer));
      list.push({ phase: 'register', role, ok: true, message: 'registered' });
    } catch (err) {
      list.push({ phase: 'register', role, ok: false, message: `register() threw: ${messageOf(err)}`,
        fix: 'fix the plugin (its register function failed), or disable it in plugins.json' });
      return false;
    } finally {
      close();
    }

    const offered = [
      ...added.sources.flatMap((s) => s.schemes.map((x) => `source:${x.toLowerCase()}`)),
      ...added.evaluators.map((e) => `evaluator:${e.name}`),
      ...added.storage.map((m) => `storage:${m.name}`),
    ];
    const claimed = plugin.manifest.provides;
    const notAdded = claimed.filter((c) => !offered.includes(c));
    const undeclared = offered.filter((c) => !claimed.includes(c));
    if (notAdded.length || undeclared.length) {
      const parts = [
        notAdded.length ? `its manifest provides ${notAdded.join(', ')} but register() did not add ${notAdded.length === 1 ? 'it' : 'them'}` : '',
        undeclared.length ? `register() added ${undeclared.join(', ')}, which its manifest does not declare` : '',
      ].filter(Boolean);
      list.push({ phase: 'capability', role, ok: false, message: parts.join('; '),
        fix: 'make manifest.provides list exactly what register() adds' });
      return false;
    }
    list.push({ phase: 'capability', role, ok: true, message: offered.join(', ') });

    try {
      for (const s of added.sources) {
        const dup = s.schemes.find((x) => reg.sources.has(x));
        if (dup) {
          throw new D7yError('D7Y_DUPLICATE_REGISTRATION', `scheme "${dup}" is already provided by plugin "${reg.sources.ownerOf(dup)}"`);
        }
      }
      for (const e of added.evaluators) {
        if (reg.evaluators.has(e.name)) throw new D7yError('D7Y_DUPLICATE_REGISTRATION', `evaluator "${e.name}" is already provided by another plugin`);
      }
      for (const m of added.storage) {
        if (reg.storage.has(m.name)) throw new D7yError('D7Y_DUPLICATE_REGISTRATION', `storage medium "${m.name}" is already provided by another plugin`);
      }
    } catch (err) {
      list.push({ phase: 'duplicate', role, ok: false, message: messageOf(err),
        fix: 'keep one plugin per scheme, evaluator or medium: disable one of them ("enabled": false) in plugins.json' });
      return false;
    }
    added.sources.forEach((s) => reg.sources.add(s, name));
    added.evaluators.forEach((e) => reg.evaluators.add(e, name));
    added.storage.forEach((m) => reg.storage.add(m, name));
    reg.lifecycle.add(resources);
    list.push({ phase: 'duplicate', role, ok: true, message: 'no conflicts' });
    return true;
  }

  /** Throws one PluginLoadError listing every error-severity problem; logs warnings. */
  assertNoErrors(problems: PluginProblem[]): void {
    for (const w of problems.filter((p) => p.severity === 'warning')) {
      this.options.logger.warn({ plugin: w.plugin, phase: w.phase, path: w.path }, `plugin skipped (onFailure: continue): ${w.message}`);
    }
    const errors = problems.filter((p) => p.severity === 'error');
    if (errors.length) throw new PluginLoadError(this.file, errors);
  }
}
