import test from 'ava';
import { repoRoot } from '../support/env.js';
import { importsOf, repoEdges, violations } from '../support/import-rules.js';

test('imports point one way: cli → plugins → core, the SDK and the CLI never reach into a role, and plugins of every kind use only core/index.js', async (t) => {
  const edges = await repoEdges(repoRoot, ['core', 'plugins', 'sources', 'schedulers', 'storage', 'cli', 'sdk']);
  t.true(edges.length > 50, 'the import scan found the code');
  t.true(edges.some((e) => e.from.startsWith('sdk/')), 'the scan covers sdk/');
  t.deepEqual(violations(edges), []);
});

test('the rule catches a wrong arrow', (t) => {
  const bad = [
    ...importsOf('core/roles/peer/peer-role.ts', "import { S3SourceClient } from '../../../sources/s3/s3-source-client.js';"),
    ...importsOf('sources/s3/s3-source-client.ts', "import { D7yError } from '../../core/errors/d7y-error.js';"),
    ...importsOf('core/index.ts', "export * from '../plugins/index.js';"),
    ...importsOf('cli/commands/get.ts', "const m = await import('../../sources/http/index.js');"),
    ...importsOf('plugins/plugin-host.ts', "import { x } from '../storage/disk/index.js';"),
    ...importsOf('cli/get-run.ts', "import { PeerRole } from '../core/roles/peer/peer-role.js';"),
    ...importsOf('cli/commands/experiment.ts', "const m = await import('../../core/roles/scheduler/experiment/index.js');"),
    ...importsOf('sdk/d7y-client.ts', "import { PeerRole } from '../core/roles/peer/peer-role.js';"),
    ...importsOf('sdk/index.ts', "export { sourceClientContract } from '../core/testing/source-client-contract.js';"),
    ...importsOf('core/roles/peer/api/local-api-server.ts', "import type { D7yClient } from '../../../../sdk/index.js';"),
    ...importsOf('plugins/embedded-peer.ts', "import { D7yClient } from '../sdk/d7y-client.js';"),
    ...importsOf('sources/http/index.ts', "import { definePlugin } from '../../sdk/plugin.js';"),
  ];
  const found = violations(bad);
  t.is(found.length, bad.length, found.join('\n'));
  t.regex(found[0], /^core\/roles\/peer\/peer-role\.ts imports sources\/s3\/s3-source-client\.js: core may not import that/);
  t.regex(found[5], /^cli\/get-run\.ts imports core\/roles\/peer\/peer-role\.js: cli may not import that \(.*never core\/roles/);
  t.regex(found[7], /^sdk\/d7y-client\.ts imports core\/roles\/peer\/peer-role\.js: sdk may not import that/);
  t.regex(found[8], /^sdk\/index\.ts imports core\/testing\/source-client-contract\.js: sdk may not import that \(.*core\/testing from sdk\/plugin\.ts only/);
  t.is(violations(importsOf('cli/commands/get.ts', "import { fakeOrigin } from '../../core/testing/index.js';")).length, 1, 'core/testing is for tests only');

  const good = [
    ...importsOf('sources/s3/index.ts', "import { definePlugin } from '../../core/index.js';\nimport { S3 } from './s3.js';"),
    ...importsOf('plugins/builtin-plugins.ts', "const l = () => import('../sources/s3/index.js');"),
    ...importsOf('plugins/role-composer.ts', "const r = await import('../core/roles/peer/peer-role.js');"),
    ...importsOf('cli/get-run.ts', "import { LocalApiClient } from '../core/protocol/local-api/local-api-client.js';"),
    ...importsOf('cli/role-options.ts', "import { loadNodeConfig } from '../core/config/config-loader.js';\nimport { D7yError } from '../core/errors/d7y-error.js';"),
    ...importsOf('cli/commands/get.ts', "import { D7yClient } from '../../sdk/index.js';\nimport { NodeRunner } from '../../plugins/index.js';"),
    ...importsOf('sdk/d7y-client.ts', "import { LocalApiClient } from '../core/protocol/local-api/local-api-client.js';\nimport { parseByteSize } from '../core/task/piece-length.js';"),
    ...importsOf('sdk/d7y-client.ts', "const { startEmbeddedPeer } = await import('../plugins/index.js');"),
    ...importsOf('sdk/plugin.ts', "export * from '../core/index.js';\nexport { evaluatorContract } from '../core/testing/evaluator-contract.js';"),
  ];
  t.deepEqual(violations(good), []);
});
