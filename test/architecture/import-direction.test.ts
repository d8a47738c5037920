import test from 'ava';
import { repoRoot } from '../support/env.js';
import { importsOf, repoEdges, violations } from '../support/import-rules.js';

test('imports point one way: cli → plugins → core, and plugins of every kind use only core/index.js', async (t) => {
  const edges = await repoEdges(repoRoot, ['core', 'plugins', 'sources', 'schedulers', 'storage', 'cli']);
  t.true(edges.length > 50, 'the import scan found the code');
  t.deepEqual(violations(edges), []);
});

test('the rule catches a wrong arrow', (t) => {
  const bad = [
    ...importsOf('core/roles/peer/peer-role.ts', "import { S3SourceClient } from '../../../sources/s3/s3-source-client.js';"),
    ...importsOf('sources/s3/s3-source-client.ts', "import { D7yError } from '../../core/errors/d7y-error.js';"),
    ...importsOf('core/index.ts', "export * from '../plugins/index.js';"),
    ...importsOf('cli/commands/get.ts', "const m = await import('../../sources/http/index.js');"),
    ...importsOf('plugins/plugin-host.ts', "import { x } from '../storage/disk/index.js';"),
  ];
  const found = violations(bad);
  t.is(found.length, 5);
  t.regex(found[0], /^core\/roles\/peer\/peer-role\.ts imports sources\/s3\/s3-source-client\.js: core may not import that/);
  const good = [
    ...importsOf('sources/s3/index.ts', "import { definePlugin } from '../../core/index.js';\nimport { S3 } from './s3.js';"),
    ...importsOf('plugins/builtin-plugins.ts', "const l = () => import('../sources/s3/index.js');"),
    ...importsOf('plugins/role-composer.ts', "const r = await import('../core/roles/peer/peer-role.js');"),
    ...importsOf('cli/get-run.ts', "import { LocalApiClient } from '../core/roles/peer/local-api-client.js';"),
  ];
  t.is(violations(importsOf('cli/commands/get.ts', "import { fakeOrigin } from '../../core/testing/index.js';")).length, 1, 'core/testing is for tests only');
  t.deepEqual(violations(good), []);
});
