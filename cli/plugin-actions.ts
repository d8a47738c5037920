import { existsSync } from 'node:fs';
import { D7yError, ROLE_NAMES, silentLogger, type RoleName } from '../core/index.js';
import { loadNodeConfig } from '../core/config/config-loader.js';
import type { NodeConfig } from '../core/config/node-config.js';
import {
  installedPackages, installPackage, locatePluginsFile, parsePackageSpec, parsePluginsFile, pluginDirOf,
  importPackage, PluginHost, PluginLoadError, pluginSearchDirs, resolvePlugin, readPluginsFile, readPluginsFileRaw, shippedPluginsFile, uninstallPackage,
  verifyPlugin, writePluginsFile, type VerifyReport,
} from '../plugins/index.js';
import { renderTable } from './table.js';

/** Options every `d7y plugin` subcommand takes. */
export interface CommonOptions {
  pluginsFile?: string;
  pluginDir?: string;
}

/** Options of `d7y plugin add`. */
export interface AddOptions extends CommonOptions {
  config?: string[];
  roles?: string;
  install: boolean;
}

async function context(opts: CommonOptions): Promise<{ file: string; config: NodeConfig }> {
  const config = await loadNodeConfig(undefined);
  if (opts.pluginDir) config.pluginDir = opts.pluginDir;
  return { file: locatePluginsFile(opts.pluginsFile), config };
}

/** `key=value` pairs into a config object; dotted keys nest, values are JSON when they parse. */
export function parseConfigPairs(pairs: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      throw new D7yError('D7Y_INVALID_ARGUMENT', `--config "${pair}" is not key=value`, { fix: 'write --config region=us-east-1 (dotted keys nest: --config gc.ttl=24h)' });
    }
    const path = pair.slice(0, eq).split('.');
    const raw = pair.slice(eq + 1);
    let value: unknown = raw;
    try { value = JSON.parse(raw); } catch { /* a plain string */ }
    let node = out;
    for (const key of path.slice(0, -1)) {
      if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[path[path.length - 1]] = value;
  }
  return out;
}

function parseRoles(text: string): RoleName[] {
  const roles = text.split(',').map((r) => r.trim()).filter(Boolean);
  const bad = roles.filter((r) => !(ROLE_NAMES as readonly string[]).includes(r));
  if (!roles.length || bad.length) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `--roles: unknown role ${bad.join(', ') || '(none given)'}`, { fix: `use a comma-separated list of ${ROLE_NAMES.join(', ')}` });
  }
  return roles as RoleName[];
}

function printReport(report: VerifyReport): void {
  const rows = report.rows.map((r) => [r.phase, r.role ?? '-', r.ok ? 'pass' : 'FAIL', r.ok ? r.message : `${r.message} — fix: ${r.fix ?? ''}`]);
  process.stdout.write(renderTable(['PHASE', 'ROLE', 'RESULT', 'DETAIL'], rows));
}

/** The manifest name of an installed package (its package name when it cannot be read: verify reports why). */
async function manifestNameOf(packageName: string, pluginDir: string): Promise<string> {
  const res = resolvePlugin(packageName, packageName, pluginSearchDirs(pluginDir));
  if (res.kind !== 'package') return packageName;
  try {
    const mod = await importPackage(res.entry) as { default?: { manifest?: { name?: unknown } } };
    const name = mod.default?.manifest?.name;
    return typeof name === 'string' && name ? name : packageName;
  } catch {
    return packageName;
  }
}

function entryOf(raw: Record<string, unknown>): unknown[] {
  return Array.isArray(raw.plugins) ? raw.plugins as unknown[] : [];
}

/** `d7y plugin add <package>`: install, verify, then record in plugins.json (the install is rolled back on failure). */
export async function addPlugin(spec: string, opts: AddOptions): Promise<void> {
  const { file, config } = await context(opts);
  const pluginDir = pluginDirOf(config) as string;
  const pkg = await parsePackageSpec(spec);
  const roles = opts.roles ? parseRoles(opts.roles) : undefined;
  const pluginConfig = opts.config?.length ? parseConfigPairs(opts.config) : undefined;
  const before = await installedPackages(pluginDir);
  const newlyInstalled = opts.install && !(pkg.packageName in before);
  if (opts.install) {
    process.stderr.write(`installing ${pkg.installSpec} into ${pluginDir} …\n`);
    await installPackage(pluginDir, pkg);
  }
  const rollback = async () => { if (newlyInstalled) await uninstallPackage(pluginDir, pkg.packageName).catch(() => undefined); };

  const target = file;
  const raw = existsSync(target) ? await readPluginsFileRaw(target) : await readPluginsFileRaw(shippedPluginsFile);
  const name = await manifestNameOf(pkg.packageName, pluginDir);
  const entry: Record<string, unknown> = { name, package: pkg.packageName };
  if (roles) entry.roles = roles;
  if (pluginConfig) entry.config = pluginConfig;
  const list = entryOf(raw).filter((e) => (e as { name?: string }).name !== name);
  const clash = entryOf(raw).find((e) => (e as { name?: string }).name === name && (e as { package?: string }).package !== pkg.packageName);
  if (clash) {
    await rollback();
    throw new D7yError('D7Y_CONFLICT', `plugins.json already has a plugin named "${name}" from another package`, {
      fix: `remove it first with \`d7y plugin remove ${name}\``,
    });
  }
  const next = { ...raw, plugins: [...list, entry] };
  const parsed = parsePluginsFile(next, target);
  const report = await verifyPlugin(target, parsed, name, config, silentLogger());
  if (!report.ok) {
    await rollback();
    printReport(report);
    throw new PluginLoadError(target, report.problems.length ? report.problems : report.rows.filter((r) => !r.ok).map((r) => ({
      plugin: name, phase: r.phase, path: 'plugins[]', message: r.message, fix: r.fix ?? '', severity: 'error' as const,
    })));
  }
  await writePluginsFile(target, next);
  process.stdout.write(`added plugin "${name}" (${report.manifest?.kind} ${report.manifest?.version}, provides ${report.manifest?.provides.join(', ')}) to ${target}\n`);
}

/** `d7y plugin list`. */
export async function listPlugins(opts: CommonOptions & { json?: boolean }): Promise<void> {
  const { file, config } = await context(opts);
  const plugins = await readPluginsFile(file);
  const host = new PluginHost(file, plugins, { pluginDir: pluginDirOf(config), logger: silentLogger() });
  const out = [];
  for (const entry of plugins.plugins) {
    const rec = (await host.loadModules(entry.name)).find((r) => r.entry.name === entry.name);
    const failed = rec?.results.find((r) => !r.ok);
    const m = rec?.plugin?.manifest;
    out.push({
      name: entry.name, kind: m?.kind ?? null, version: m?.version ?? null, enabled: entry.enabled,
      roles: rec?.plugin ? host.rolesOf(rec) : entry.roles ?? [], provides: m?.provides ?? [],
      origin: rec?.origin ?? null, status: failed ? `error [${failed.phase}]: ${failed.message}` : 'ok',
    });
  }
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  process.stdout.write(renderTable(['NAME', 'KIND', 'VERSION', 'ENABLED', 'ROLES', 'PROVIDES', 'STATUS'],
    out.map((p) => [p.name, p.kind ?? '?', p.version ?? '?', p.enabled ? 'yes' : 'no', p.roles.join(','), p.provides.join(','), p.status])));
}

/** `d7y plugin remove <name>`. */
export async function removePlugin(name: string, opts: CommonOptions): Promise<void> {
  const { file, config } = await context(opts);
  const raw = await readPluginsFileRaw(file);
  const entries = entryOf(raw) as { name?: string; package?: string }[];
  const found = entries.find((e) => e.name === name);
  if (!found) {
    throw new D7yError('D7Y_PLUGIN_NOT_FOUND', `no plugin named "${name}" in ${file} (plugins: ${entries.map((e) => e.name).join(', ') || 'none'})`, {
      fix: 'run `d7y plugin list` to see the names',
    });
  }
  await writePluginsFile(file, { ...raw, plugins: entries.filter((e) => e !== found) });
  const pluginDir = pluginDirOf(config) as string;
  if (found.package && found.package in await installedPackages(pluginDir)) await uninstallPackage(pluginDir, found.package);
  process.stdout.write(`removed plugin "${name}" from ${file}\n`);
}

/** The problems of a verify report: each with its phase, JSON path in plugins.json and fix. */
function problemsOf(report: VerifyReport): { phase: string; path: string; message: string; fix: string }[] {
  if (report.problems.length || report.ok) return report.problems.map((p) => ({ phase: p.phase, path: p.path, message: p.message, fix: p.fix }));
  return report.rows.filter((r) => !r.ok).map((r) => ({ phase: r.phase, path: '', message: r.message, fix: r.fix ?? '' }));
}

/** `d7y plugin verify <name>`: exit code 1 when a phase fails; `--json` prints ok, phases and problems. */
export async function verifyPluginByName(name: string, opts: CommonOptions & { json?: boolean }): Promise<void> {
  const { file, config } = await context(opts);
  const plugins = await readPluginsFile(file);
  const listed = plugins.plugins.some((p) => p.name === name);
  const candidate = listed ? plugins : { ...plugins, plugins: [...plugins.plugins, { name, enabled: true, onFailure: 'abort' as const }] };
  const report = await verifyPlugin(file, candidate, name, config, silentLogger());
  if (!report.ok) process.exitCode = 1;
  if (opts.json) {
    const phases = report.rows.map((r) => ({ phase: r.phase, ...(r.role ? { role: r.role } : {}), ok: r.ok, message: r.message, ...(r.fix ? { fix: r.fix } : {}) }));
    process.stdout.write(`${JSON.stringify({ ok: report.ok, plugin: name, origin: report.origin, file, phases, problems: problemsOf(report) }, null, 2)}\n`);
    return;
  }
  process.stdout.write(`plugin "${name}" from ${report.origin}\n`);
  printReport(report);
}

/** `d7y plugin info <name>`. */
export async function pluginInfo(name: string, opts: CommonOptions & { json?: boolean }): Promise<void> {
  const { file, config } = await context(opts);
  const plugins = await readPluginsFile(file);
  const entry = plugins.plugins.find((p) => p.name === name) ?? { name, enabled: false, onFailure: 'abort' as const };
  const host = new PluginHost(file, { ...plugins, plugins: [...plugins.plugins.filter((p) => p.name !== name), entry] }, { pluginDir: pluginDirOf(config), logger: silentLogger() });
  const rec = (await host.loadModules(name)).find((r) => r.entry.name === name);
  const failed = rec?.results.find((r) => !r.ok);
  if (!rec?.plugin) {
    throw new D7yError('D7Y_PLUGIN_NOT_FOUND', `plugin "${name}" cannot be loaded: ${failed?.message ?? 'unknown'}`, { fix: failed?.fix ?? 'run `d7y plugin list`' });
  }
  const m = rec.plugin.manifest;
  const info = { ...m, origin: rec.origin, inPluginsFile: plugins.plugins.some((p) => p.name === name), enabled: entry.enabled, config: entry.config ?? {} };
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
    return;
  }
  process.stdout.write(renderTable(['FIELD', 'VALUE'], Object.entries(info).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])));
}
