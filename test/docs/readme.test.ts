import test from 'ava';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { repoRoot } from '../support/env.js';
import { runCli } from '../support/run-cli.js';

const MAX_README_LINES = 350;

/** The body of the `## <heading>` section, up to the next level-2 heading. */
function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  if (start < 0) return '';
  const next = markdown.indexOf('\n## ', start + 1);
  return markdown.slice(start, next < 0 ? undefined : next);
}

/** Link targets of `[text](target)` outside fenced code blocks and code spans. */
function linkTargets(markdown: string): string[] {
  const prose = markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!);
}

/** Targets of relative links in `file` (repository-relative) whose file or folder does not exist. */
async function brokenLinks(file: string): Promise<string[]> {
  const text = await readFile(join(repoRoot, file), 'utf8');
  const broken: string[] = [];
  for (const target of linkTargets(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) continue;
    const path = decodeURI(target.replace(/[?#].*$/, ''));
    const abs = resolve(repoRoot, dirname(file), path);
    if (!existsSync(abs)) broken.push(`${file}: ${target} (${relative(repoRoot, abs)} does not exist)`);
  }
  return broken;
}

async function sourceNames(): Promise<string[]> {
  const entries = await readdir(join(repoRoot, 'sources'), { withFileTypes: true });
  return entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
}

test(`README.md has at most ${MAX_README_LINES} lines`, async (t) => {
  const text = await readFile(join(repoRoot, 'README.md'), 'utf8');
  const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
  t.true(lines <= MAX_README_LINES, `README.md has ${lines} lines; move detail into docs/ and keep it at most ${MAX_README_LINES}`);
});

test('every top-level command of the built CLI has an entry in the README\'s CLI reference', async (t) => {
  const help = await runCli(['--help']);
  t.is(help.code, 0, help.stderr);
  const listing = help.stdout.slice(help.stdout.indexOf('\nCommands:\n'));
  const commands = [...listing.matchAll(/^ {2}([a-z][\w-]*)/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
  t.true(commands.length >= 10, `expected the command list of d7y --help, parsed only: ${commands.join(', ')}`);
  const reference = section(await readFile(join(repoRoot, 'README.md'), 'utf8'), 'CLI reference');
  t.not(reference, '', 'README.md has a "## CLI reference" section');
  const missing = commands.filter((c) => !new RegExp(`\`d7y ${c}[\\s\`]`).test(reference));
  t.deepEqual(missing, [], `commands without an entry (\`d7y <command> …\`) in the README's CLI reference: ${missing.join(', ')}`);
});

test('relative links in README.md, bench/README.md, docs/*.md and the sources\' READMEs point to files that exist', async (t) => {
  const docs = (await readdir(join(repoRoot, 'docs'))).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`);
  t.true(docs.includes('docs/architecture.md') && docs.includes('docs/performance-log.md'), `docs/ holds ${docs.join(', ')}`);
  const sources = (await sourceNames()).map((s) => `sources/${s}/README.md`).filter((f) => existsSync(join(repoRoot, f)));
  const broken: string[] = [];
  for (const file of ['README.md', 'bench/README.md', ...docs, ...sources]) broken.push(...await brokenLinks(file));
  t.deepEqual(broken, []);
});

test('every source folder has a README.md, linked from the README\'s Sources table', async (t) => {
  const names = await sourceNames();
  t.true(names.length >= 7, `sources/ holds ${names.join(', ')}`);
  t.deepEqual(names.filter((n) => !existsSync(join(repoRoot, 'sources', n, 'README.md'))), [], 'source folders without a README.md');
  const links = linkTargets(section(await readFile(join(repoRoot, 'README.md'), 'utf8'), 'Sources'));
  t.deepEqual(names.filter((n) => !links.includes(`sources/${n}/README.md`)), [], 'sources whose README.md the Sources table does not link');
});
