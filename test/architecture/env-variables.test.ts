import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import test from 'ava';
import { checkEnvName, D7Y_OTHER_PREFIXES, D7Y_OTHER_VARIABLES } from '../../core/config/env-variables.js';
import { NodeConfigSchema } from '../../core/config/node-config.js';
import { repoRoot } from '../support/env.js';

const FOLDERS = ['cli', 'core', 'plugins', 'sources', 'schedulers', 'storage', 'sdk', 'bench', 'test'];

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const files = await Promise.all(entries.map(async (e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : sourceFiles(path);
    return /\.(ts|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [path] : [];
  }));
  return files.flat();
}

/** Every `D7Y_*` variable the code reads (`env.D7Y_X`, `env['D7Y_X']`), with the first file that reads it. */
async function variablesRead(): Promise<Map<string, string>> {
  const read = new Map<string, string>();
  for (const folder of FOLDERS) {
    for (const file of await sourceFiles(join(repoRoot, folder))) {
      const text = await readFile(file, 'utf8');
      for (const m of text.matchAll(/\benv(?:\.|\[['"])(D7Y_[A-Z0-9_]+)/g)) {
        if (!read.has(m[1]!)) read.set(m[1]!, relative(repoRoot, file));
      }
    }
  }
  return read;
}

test('every D7Y_ variable the code reads is a config path or in the one list of other variables, and every listed one is read', async (t) => {
  const read = await variablesRead();
  t.true(read.has('D7Y_DEBUG') && read.has('D7Y_DATA_DIR'), `the scan found the code's variables: ${[...read.keys()].join(', ')}`);
  const refused = [...read].filter(([name]) => checkEnvName(name, NodeConfigSchema) !== undefined).map(([name, file]) => `${name} (${file})`);
  t.deepEqual(refused, [], 'variables the code reads that d7y would refuse as unknown config variables: add them to D7Y_OTHER_VARIABLES');
  const listedUnread = Object.keys(D7Y_OTHER_VARIABLES).filter((name) => !read.has(name));
  t.deepEqual(listedUnread, [], 'listed in D7Y_OTHER_VARIABLES but read nowhere');
  const benchRead = [...read.keys()].filter((name) => D7Y_OTHER_PREFIXES.some((p) => name.startsWith(p)));
  t.true(benchRead.length > 0, 'the D7Y_BENCH_ prefix covers variables the benchmarks read');
});

test('the check refuses a mistyped config variable and lets the others through', (t) => {
  t.is(checkEnvName('D7Y_SCHEDULR__LISTEN__PORT', NodeConfigSchema)?.suggestion, 'D7Y_SCHEDULER__LISTEN__PORT');
  t.is(checkEnvName('D7Y_DATADIR', NodeConfigSchema)?.suggestion, 'D7Y_DATA_DIR');
  t.deepEqual(checkEnvName('D7Y_FOO__BAR', NodeConfigSchema)?.known.includes('SCHEDULER'), true);
  for (const ok of ['D7Y_DATA_DIR', 'D7Y_PEER__UPLOAD__CHILDREN_PER_PIECE', 'D7Y_MANAGER__ROOT_PASSWORD', 'D7Y_LOG_LEVEL', 'D7Y_BENCH_LOG']) {
    t.is(checkEnvName(ok, NodeConfigSchema), undefined, ok);
  }
});
