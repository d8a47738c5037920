import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { loadNodeConfig } from '../../core/config/config-loader.js';
import { d7yBin, repoRoot, tmpDir } from '../support/env.js';

const run = promisify(execFile);
const unitsDir = join(repoRoot, 'deploy/systemd');

test('systemd-analyze accepts every unit; each runs its role with a config file the manifests carry, and waits out its drain', async (t) => {
  await run('bash', [join(repoRoot, 'scripts/test-deps.sh')]);
  const units = (await readdir(unitsDir)).filter((f) => f.endsWith('.service')).sort();
  t.deepEqual(units, ['d7y-manager.service', 'd7y-peer.service', 'd7y-scheduler.service', 'd7y-seed-peer.service']);
  const dir = await tmpDir(t);
  for (const unit of units) {
    const text = await readFile(join(unitsDir, unit), 'utf8');
    const exec = /^ExecStart=\/usr\/local\/bin\/d7y (manager|scheduler|peer) --config \/etc\/d7y\/config\/([\w-]+\.yaml)$/m.exec(text);
    t.truthy(exec, `${unit} runs d7y <role> --config /etc/d7y/config/<file>`);
    const [, role, file] = exec!;
    t.is(file, `${unit.replace(/^d7y-|\.service$/g, '')}.yaml`, `${unit} reads the config named after it`);
    const config = await loadNodeConfig(join(repoRoot, 'deploy/kubernetes/overlays/full/config', file!), {});
    if (role === 'peer') {
      t.is(config.peer.seed, unit === 'd7y-seed-peer.service', `${unit}: seed mode as the name says`);
      const stopSec = Number(/^TimeoutStopSec=(\d+)$/m.exec(text)?.[1]);
      t.true(stopSec * 1000 > config.peer.drainTimeout + 10_000, `${unit}: TimeoutStopSec leaves the drain its ${config.peer.drainTimeout} ms`);
    }
    // Verified with the bin of this checkout where the install would put it.
    await writeFile(join(dir, unit), text.replace('/usr/local/bin/d7y', d7yBin));
    const { stderr } = await run('systemd-analyze', ['verify', '--man=no', join(dir, unit)]);
    t.is(stderr.split('\n').filter((l) => l.includes(unit)).join('\n'), '', `${unit}: systemd-analyze verify`);
  }
});
