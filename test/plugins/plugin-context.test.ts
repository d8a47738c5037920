import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { isD7yError, silentLogger, type D7yError } from '../../core/index.js';
import { createMetricsRegistry } from '../../core/metrics/metrics.js';
import { EvaluatorRegistry } from '../../core/registry/evaluator-registry.js';
import { SourceRouter } from '../../core/registry/source-router.js';
import { StorageRegistry } from '../../core/registry/storage-registry.js';
import { Lifecycle } from '../../core/roles/lifecycle.js';
import { parsePluginsFile, PluginHost, type RoleRegistries } from '../../plugins/index.js';
import { repoRoot, tmpDir } from '../support/env.js';
import { fixturePluginsDir } from '../support/plugin-sandbox.js';

/**
 * A plugin directory holding `d7y` (this package, as a plugin package depending on it would) and
 * the given plugin packages (name → index.js source), and a host over a plugins.json listing them.
 */
async function hostOver(t: ExecutionContext, packages: Record<string, string>, copied: string[] = []) {
  const dir = await tmpDir(t);
  const modules = join(dir, 'plugins', 'node_modules');
  await mkdir(modules, { recursive: true });
  await symlink(repoRoot, join(modules, 'd7y'), 'dir');
  for (const [name, source] of Object.entries(packages)) {
    await mkdir(join(modules, `d7y-plugin-${name}`));
    await writeFile(join(modules, `d7y-plugin-${name}`, 'package.json'), JSON.stringify({ name: `d7y-plugin-${name}`, version: '1.0.0', type: 'module', main: 'index.js' }));
    await writeFile(join(modules, `d7y-plugin-${name}`, 'index.js'), source);
  }
  for (const name of copied) await symlink(join(fixturePluginsDir, name), join(modules, `d7y-plugin-${name}`), 'dir');
  const names = [...Object.keys(packages), ...copied];
  const file = join(dir, 'plugins.json');
  const host = new PluginHost(file, parsePluginsFile({ plugins: names.map((name) => ({ name })) }, file), { pluginDir: join(dir, 'plugins'), logger: silentLogger() });
  const reg: RoleRegistries = {
    sources: new SourceRouter(), evaluators: new EvaluatorRegistry(), storage: new StorageRegistry(),
    lifecycle: new Lifecycle(), logger: silentLogger(), metrics: createMetricsRegistry(), dataDir: dir,
  };
  const moduleOf = (name: string) => import(pathToFileURL(join(modules, `d7y-plugin-${name}`, 'index.js')).href);
  return { host, reg, moduleOf };
}

const LATE = `
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { definePlugin } from 'd7y/plugin';

const source = (scheme) => ({ schemes: [scheme], stat: async (r) => ({ url: r.url, supportsRange: false }), download: async () => ({ stream: Readable.from([]) }) });
const tryAdd = (add) => { try { add(); return undefined; } catch (err) { return err; } };
export const late = {};

export default definePlugin({
  manifest: { name: 'late', version: '1.0.0', kind: 'source', apiVersion: '1', roles: ['peer'], provides: ['source:late'] },
  async register(ctx) {
    await delay(10);
    ctx.sources.add(source('late'));
    late.fromTimer = new Promise((resolve) => setTimeout(() => resolve([
      tryAdd(() => ctx.sources.add(source('later'))),
      tryAdd(() => ctx.evaluators.add({ name: 'later', rank: (c) => c, isBadParent: () => false })),
      tryAdd(() => ctx.storage.add({ name: 'later' })),
    ]), 20));
    late.afterAwait = (async () => {
      await delay(30);
      return tryAdd(() => ctx.lifecycle.add({ start: async () => {}, stop: async () => {} }));
    })();
  },
});
`;

test('an add after register() has returned throws, naming the plugin, the call and the fix; what register awaited is kept', async (t) => {
  const { host, reg, moduleOf } = await hostOver(t, { late: LATE });
  const { problems } = await host.registerRole('peer', reg);
  t.deepEqual(problems, []);
  t.true(reg.sources.has('late'), 'an add after an await inside register counts');
  const { late } = await moduleOf('late');
  const errors = [...await late.fromTimer, await late.afterAwait] as (D7yError | undefined)[];
  t.is(errors.length, 4);
  for (const [i, point] of ['ctx.sources.add', 'ctx.evaluators.add', 'ctx.storage.add', 'ctx.lifecycle.add'].entries()) {
    const err = errors[i];
    t.true(isD7yError(err, 'D7Y_PLUGIN_INVALID'), `${point}: ${String(err)}`);
    t.is(err!.message, `plugin "late" called ${point}() in the peer role after its register() had returned; nothing is added that late`);
    t.regex(err!.fix ?? '', /add everything before it returns: await the work inside register\(\)/);
  }
  t.false(reg.sources.has('later'), 'the late source is not routed to');
  t.false(reg.evaluators.has('later'));
  t.false(reg.storage.has('later'));
});

test('the host loads a plugin made by definePlugin and a plain plugin object alike, and tells which is which', async (t) => {
  const made = `
import { Readable } from 'node:stream';
import { definePlugin } from 'd7y/plugin';
export default definePlugin({
  manifest: { name: 'made', version: '1.0.0', kind: 'source', apiVersion: '1', roles: ['peer'], provides: ['source:made'] },
  register(ctx) { ctx.sources.add({ schemes: ['made'], stat: async (r) => ({ url: r.url, supportsRange: false }), download: async () => ({ stream: Readable.from([]) }) }); },
});
`;
  const { host, reg } = await hostOver(t, { made }, ['echo']);
  const { problems, results } = await host.registerRole('peer', reg);
  t.deepEqual(problems, []);
  t.true(reg.sources.has('made'));
  t.true(reg.sources.has('echo'));
  t.is(results.get('made')!.find((r) => r.phase === 'export')!.message, 'default export is a plugin made by definePlugin');
  t.regex(results.get('echo')!.find((r) => r.phase === 'export')!.message, /^default export is a plain plugin object \(not made by definePlugin/);
});
