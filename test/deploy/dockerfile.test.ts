import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import semver from 'semver';
import { NodeConfigSchema } from '../../core/config/node-config.js';
import { repoRoot } from '../support/env.js';

const run = promisify(execFile);
const dockerfile = join(repoRoot, 'deploy/Dockerfile');

interface Instruction { op: string; args: string }

/** The Dockerfile's instructions, continuation lines joined, comments dropped. */
function instructions(text: string): Instruction[] {
  return text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
    .map((l) => { const [op, ...rest] = l.split(/\s+/); return { op: op!.toUpperCase(), args: rest.join(' ') }; });
}

/** Instructions by stage (FROM … AS name). */
function stages(all: Instruction[]): { name: string; from: string; body: Instruction[] }[] {
  const out: { name: string; from: string; body: Instruction[] }[] = [];
  for (const i of all) {
    if (i.op === 'FROM') {
      const [from, , name] = i.args.split(/\s+/);
      out.push({ name: name ?? String(out.length), from: from!, body: [] });
    } else out.at(-1)?.body.push(i);
  }
  return out;
}

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { bin: Record<string, string>; engines: { node: string }; scripts: Record<string, string> };
const all = instructions(readFileSync(dockerfile, 'utf8'));
const ignored = readFileSync(`${dockerfile}.dockerignore`, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
const contextCopies = all.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from')).flatMap((i) => i.args.split(/\s+/).slice(0, -1));

test('multi-stage on a slim Node image that satisfies the package\'s engines', (t) => {
  const s = stages(all);
  t.true(s.length >= 2, 'more than one stage');
  const arg = all.find((i) => i.op === 'ARG' && i.args.startsWith('NODE_IMAGE='))!.args.split('=')[1]!;
  t.regex(arg, /^node:[\d.]+-[a-z]+-slim$/);
  t.true(s.every((x) => x.from === '${NODE_IMAGE}'), 'every stage is built on it');
  t.true(semver.satisfies(semver.coerce(arg.split(':')[1])!, pkg.engines.node), `${arg} satisfies engines.node ${pkg.engines.node}`);
});

test('the build context files it COPYs exist, are not ignored, and cover what tsc compiles', (t) => {
  for (const src of contextCopies) {
    t.true(existsSync(join(repoRoot, src)), `${src} exists`);
    t.false(ignored.some((p) => p.replace(/^\*\*\//, '') === src), `${src} is not in the .dockerignore`);
  }
  const tsconfig = JSON.parse(readFileSync(join(repoRoot, 'tsconfig.json'), 'utf8')) as { include: string[] };
  for (const dir of tsconfig.include) t.true(contextCopies.includes(dir), `${dir} (compiled by tsc) is copied`);
  for (const script of pkg.scripts.prepare!.match(/\bscripts\/\S+/g) ?? []) t.true(contextCopies.includes(script), `${script} (run by npm prepare) is copied`);
});

test('the image ships what npm pack ships, installed from the packed tarball', async (t) => {
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: repoRoot, maxBuffer: 64 * 1024 * 1024 });
  const files = (JSON.parse(stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
  t.true(files.length > 100);
  for (const f of files) {
    const source = f.startsWith('dist/') ? f.split('/')[1]! : f;
    t.true(contextCopies.some((c) => source === c || source.startsWith(`${c}/`)), `${f} is built from files the Dockerfile copies`);
  }
  const [build, install, runtime] = stages(all);
  t.true(build!.body.some((i) => i.op === 'RUN' && /npm ci\b.*npm pack/.test(i.args)), 'the build stage packs the package');
  t.true(install!.body.some((i) => i.op === 'RUN' && /npm install --global --omit=dev .*\.tgz/.test(i.args)), 'the install stage installs the tarball');
  t.deepEqual(runtime!.body.filter((i) => i.op === 'COPY').map((i) => i.args.split(/\s+/)[0]), [`--from=${install!.name}`], 'the runtime copies the installed package only');
});

test('the runtime runs the d7y bin as a non-root user and exposes every default port', (t) => {
  const runtime = stages(all).at(-1)!.body;
  const user = runtime.filter((i) => i.op === 'USER').at(-1)!.args.split(':')[0]!;
  t.regex(user, /^[1-9]\d*$/, 'a numeric non-root user (runAsNonRoot can check it)');
  t.is(runtime.find((i) => i.op === 'ENTRYPOINT')?.args, '["d7y"]');
  const link = /ln -s \.\.\/lib\/node_modules\/d7y\/(\S+) \/usr\/local\/bin\/d7y/.exec(runtime.map((i) => i.args).join('\n'));
  t.is(link?.[1], pkg.bin.d7y, '/usr/local/bin/d7y is the package\'s bin');
  const c = NodeConfigSchema.parse({});
  const defaults = [c.manager.listen.port, c.scheduler.listen.port, c.scheduler.metrics.listen.port, c.peer.rpc.port, c.peer.proxy.listen.port,
    c.peer.metrics.listen.port, c.peer.upload.port, c.peer.pieceHttp.port];
  const exposed = runtime.filter((i) => i.op === 'EXPOSE').flatMap((i) => i.args.split(/\s+/).map(Number));
  t.deepEqual([...exposed].sort(), [...defaults].sort());
});
