import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import test from 'ava';
import type { Command } from 'commander';
import { buildProgram } from '../../cli/program.js';
import { repoRoot } from '../support/env.js';

/** Flags of other programs that fix sentences may name (createrepo_c, curl, ctr, skopeo, node). */
const FOREIGN = new Set(['--help', '--version', '--general-compress-type', '--plain-http', '--cacert', '--hosts-dir', '--src-creds', '--authfile', '--max-semi-space-size']);

async function* sources(dir: string): AsyncIterable<string> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'dist' || e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* sources(p);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts')) yield p;
  }
}

function cliFlags(cmd: Command, into = new Set<string>()): Set<string> {
  for (const o of cmd.options) {
    if (o.long) into.add(o.long);
    if (o.long?.startsWith('--no-')) into.add(`--${o.long.slice(5)}`);
  }
  for (const c of cmd.commands) cliFlags(c, into);
  return into;
}

test('every --flag a fix sentence tells the user to pass exists in the CLI', async (t) => {
  const known = cliFlags(await buildProgram());
  const wrong: string[] = [];
  let checked = 0;
  for (const dir of ['core', 'sources', 'plugins', 'cli', 'storage', 'schedulers', 'sdk']) {
    for await (const file of sources(join(repoRoot, dir))) {
      const text = await readFile(file, 'utf8');
      for (const m of text.matchAll(/\bfix\s*[:=]\s*(?:'((?:[^'\\\n]|\\.)*)'|"((?:[^"\\\n]|\\.)*)"|`((?:[^`\\]|\\.)*)`)/g)) {
        const sentence = m[1] ?? m[2] ?? m[3] ?? '';
        for (const flag of sentence.matchAll(/(?<![\w-])--[a-z][a-z0-9-]*/g)) {
          checked += 1;
          if (!known.has(flag[0]) && !FOREIGN.has(flag[0])) wrong.push(`${relative(repoRoot, file)}: ${flag[0]} in "${sentence.slice(0, 120)}"`);
        }
      }
    }
  }
  t.true(checked > 20, `only ${checked} flags found: the scan is broken`);
  t.deepEqual(wrong, [], 'fix sentences that name a flag the CLI does not have');
});
