import { readdir, readFile } from 'node:fs/promises';
import { join, posix, relative } from 'node:path';

/** A relative import found in a source file, resolved to a repo-relative path. */
export interface ImportEdge {
  from: string;
  to: string;
}

const IMPORT_RE = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g;

/** Every relative import (static, dynamic, re-export) of the given files' text. */
export function importsOf(file: string, text: string): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const m of text.matchAll(IMPORT_RE)) edges.push({ from: file, to: posix.normalize(posix.join(posix.dirname(file), m[1])) });
  return edges;
}

const PLUGIN_AREAS = ['sources', 'schedulers', 'storage'];

/** Core's modules that hold no role, which the CLI and the SDK may import by path. */
const CORE_LEAVES = ['core/errors/', 'core/task/', 'core/config/', 'core/logging/'];

function area(path: string): string {
  return path.split('/')[0];
}

function isTestFile(path: string): boolean {
  return /\.test\.ts$/.test(path);
}

function under(target: string, prefixes: string[]): boolean {
  return prefixes.some((p) => target.startsWith(p));
}

/** What each area may import, as a sentence for a violation and as a check. */
const RULES: Record<string, { rule: string; allows(from: string, target: string): boolean }> = {
  core: {
    rule: 'core imports only core',
    allows: (_from, target) => area(target) === 'core',
  },
  plugins: {
    rule: 'the host imports core (never core/testing), plugins/ and the built-in plugins\' index files',
    allows: (from, target) => (area(target) === 'core' && !target.startsWith('core/testing/')) || area(target) === 'plugins'
      || (from === 'plugins/builtin-plugins.ts' && PLUGIN_AREAS.includes(area(target)) && /^[a-z]+\/[^/]+\/index\.ts$/.test(target)),
  },
  cli: {
    rule: 'the CLI imports core/index.js, core/protocol, core/{errors,task,config,contracts,logging}, plugins/index.js, sdk/ and cli/; never core/roles or core/testing',
    allows: (_from, target) => target === 'core/index.ts' || target === 'plugins/index.ts'
      || under(target, ['core/protocol/', ...CORE_LEAVES, 'core/contracts/', 'sdk/', 'cli/']),
  },
  sdk: {
    rule: 'the SDK imports core/index.js, core/protocol, core/{errors,task,config,logging}, plugins/index.js and sdk/ (core/testing from sdk/plugin.ts only)',
    allows: (from, target) => target === 'core/index.ts' || target === 'plugins/index.ts'
      || under(target, ['core/protocol/', ...CORE_LEAVES, 'sdk/'])
      || (from === 'sdk/plugin.ts' && target.startsWith('core/testing/')),
  },
  ...Object.fromEntries(PLUGIN_AREAS.map((a) => [a, {
    rule: 'a plugin imports core/index.js and its own kind only',
    allows: (_from: string, target: string) => target === 'core/index.ts' || area(target) === a,
  }])),
};

/**
 * The one-way rule of DESIGN §1: cli → plugins → core; sources|schedulers|storage → core's public
 * index only (and code of their own kind); core imports no plugin, host, SDK or CLI; the host may
 * import any core module by path (it composes the roles); the CLI and the SDK reach core through its
 * index, its protocols and its leaf modules, never a role. Tests may also use core/testing and test/.
 * Returns a sentence per violation.
 */
export function violations(edges: ImportEdge[]): string[] {
  const out: string[] = [];
  for (const { from, to } of edges) {
    const a = area(from);
    const rule = RULES[a];
    if (!rule) continue;
    const target = to.replace(/\.js$/, '.ts');
    const testOk = isTestFile(from) && (target.startsWith('core/testing/') || target.startsWith('test/'));
    if (!rule.allows(from, target) && !testOk) out.push(`${from} imports ${to}: ${a} may not import that (${rule.rule})`);
  }
  return out;
}

/** All .ts files under the given top-level folders (node_modules, dist and generated code excluded). */
export async function sourceFiles(root: string, folders: string[]): Promise<string[]> {
  const files: string[] = [];
  async function walk(dir: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name === 'fixtures') continue;
      const p = join(dir, entry.name);
      if (entry.isDirectory()) await walk(p);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) files.push(relative(root, p).split('\\').join('/'));
    }
  }
  for (const f of folders) await walk(join(root, f));
  return files;
}

export async function repoEdges(root: string, folders: string[]): Promise<ImportEdge[]> {
  const edges: ImportEdge[] = [];
  for (const file of await sourceFiles(root, folders)) edges.push(...importsOf(file, await readFile(join(root, file), 'utf8')));
  return edges;
}

