import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { builtinPlugins, type PluginModule } from './builtin-plugins.js';

/** Where npm plugin packages are looked up, in order. */
export function pluginSearchDirs(pluginDir: string | undefined): string[] {
  const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
  const dirs = [pluginDir, process.cwd(), projectRoot].filter((d): d is string => Boolean(d));
  return [...new Set(dirs.map((d) => resolve(d)))];
}

/** The npm package name for a plugins.json entry: `package`, else the name if it looks like a package, else `d7y-plugin-<name>`. */
export function packageNameFor(name: string, pkg?: string): string {
  if (pkg) return pkg;
  if (name.startsWith('@') || name.startsWith('d7y-plugin-')) return name;
  return `d7y-plugin-${name}`;
}

export type Resolution =
  | { kind: 'builtin'; name: string; load: () => Promise<PluginModule> }
  | { kind: 'package'; packageName: string; dir: string; entry: string; version?: string }
  | { kind: 'missing'; packageName: string; searched: string[] };

interface PackageJson {
  name?: string;
  version?: string;
  main?: string;
  exports?: unknown;
}

function exportEntry(exp: unknown): string | undefined {
  if (typeof exp === 'string') return exp;
  if (typeof exp !== 'object' || exp === null) return undefined;
  const map = exp as Record<string, unknown>;
  if ('.' in map) return exportEntry(map['.']);
  for (const cond of ['import', 'node', 'default']) {
    if (cond in map) return exportEntry(map[cond]);
  }
  return undefined;
}

/** Finds a built-in or installed plugin; never imports it. */
export function resolvePlugin(name: string, pkg: string | undefined, searchDirs: string[]): Resolution {
  if (!pkg && Object.hasOwn(builtinPlugins, name)) return { kind: 'builtin', name, load: builtinPlugins[name] };
  const packageName = packageNameFor(name, pkg);
  const searched: string[] = [];
  for (const base of searchDirs) {
    const dir = join(base, 'node_modules', packageName);
    searched.push(dir);
    const manifestFile = join(dir, 'package.json');
    if (!existsSync(manifestFile)) continue;
    const pj = JSON.parse(readFileSync(manifestFile, 'utf8')) as PackageJson;
    const rel = exportEntry(pj.exports) ?? pj.main ?? 'index.js';
    return { kind: 'package', packageName, dir, entry: join(dir, rel), version: pj.version };
  }
  return { kind: 'missing', packageName, searched };
}

/** Imports a resolved package's entry module. */
export async function importPackage(entry: string): Promise<unknown> {
  return import(pathToFileURL(entry).href);
}
