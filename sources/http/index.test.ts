import { randomBytes } from 'node:crypto';
import test from 'ava';
import { silentLogger, type PluginContext, type SourceClient, type Startable } from '../../core/index.js';
import { startOriginServer } from '../../test/support/origin-server.js';
import plugin, { type HttpSourceConfig } from './index.js';

test('manifest provides source:http and source:https for every role', (t) => {
  t.like(plugin.manifest, { name: 'http', kind: 'source', apiVersion: '1', provides: ['source:http', 'source:https'] });
  t.deepEqual([...plugin.manifest.roles].sort(), ['manager', 'peer', 'scheduler']);
});

test('parseConfig fills defaults and refuses unknown keys and bad values', (t) => {
  const cfg = plugin.parseConfig!({ retries: 1 });
  t.like(cfg, { retries: 1, insecureSkipVerify: false, maxRedirections: 5 });
  t.true(cfg.maxConnectionsPerOrigin > 0);
  t.like(plugin.parseConfig!(undefined), { retries: 3 });
  const unknown = t.throws(() => plugin.parseConfig!({ retry: 2 }));
  t.regex(unknown!.message, /retry/);
  const bad = t.throws(() => plugin.parseConfig!({ connectTimeout: 'soon' }));
  t.regex(bad!.message, /connectTimeout/);
});

test('register adds a client for http and https and a lifecycle that closes it', async (t) => {
  const sources: SourceClient[] = [];
  const resources: Startable[] = [];
  const ctx = {
    pluginName: 'http', role: 'peer', config: plugin.parseConfig!({}), logger: silentLogger(),
    sources: { add: (c: SourceClient) => sources.push(c) },
    lifecycle: { add: (r: Startable) => resources.push(r) },
  } as unknown as PluginContext<HttpSourceConfig>;
  await plugin.register(ctx);
  t.is(sources.length, 1);
  t.deepEqual([...sources[0]!.schemes], ['http', 'https']);
  t.is(resources.length, 1);
  const data = randomBytes(1234);
  const origin = await startOriginServer(t, { files: { '/x': data } });
  await resources[0]!.start();
  t.is((await sources[0]!.stat({ url: origin.urlOf('/x') })).contentLength, 1234);
  await resources[0]!.stop();
  await resources[0]!.stop();
  await t.throwsAsync(sources[0]!.stat({ url: origin.urlOf('/x') }));
});
