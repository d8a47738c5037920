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

function area(path: string): string {
  return path.split('/')[0];
}

function isTestFile(path: string): boolean {
  return /\.test\.ts$/.test(path);
}

/**
 * The host and the CLI may also import a core module by its own path (a role, the daemon client),
 * so that a process loads only the code it runs; never core's test kit.
 */
function hostMayImport(target: string): boolean {
  return area(target) === 'core' && !target.startsWith('core/testing/');
}

/**
 * The one-way rule of DESIGN §1: cli → plugins → core; sources|schedulers|storage → core's public
 * index only (and code of their own kind); core imports no plugin, host or CLI; the host and the CLI
 * reach core through its index or a module's own path. Tests may also use
 * core/testing and test/.
 * Returns a sentence per violation.
 */
export function violations(edges: ImportEdge[]): string[] {
  const out: string[] = [];
  for (const { from, to } of edges) {
    const a = area(from);
    const b = area(to);
    const target = to.replace(/\.js$/, '.ts');
    const testOk = isTestFile(from) && (target.startsWith('core/testing/') || target.startsWith('test/'));
    let ok = true;
    if (a === 'core') ok = b === 'core' || testOk;
    else if (PLUGIN_AREAS.includes(a)) {
      ok = target === 'core/index.ts' || b === a || testOk;
    } else if (a === 'plugins') {
      ok = target === 'core/index.ts' || b === 'plugins' || hostMayImport(target)
        || (from === 'plugins/builtin-plugins.ts' && PLUGIN_AREAS.includes(b) && /^[a-z]+\/[^/]+\/index\.ts$/.test(target))
        || testOk;
    } else if (a === 'cli') {
      ok = target === 'core/index.ts' || target === 'plugins/index.ts' || b === 'cli' || hostMayImport(target) || testOk;
    }
    if (!ok) out.push(`${from} imports ${to}: ${a} may not import that (cli → plugins → core; plugins import core/index.js only)`);
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

