import '../../core/metadata-polyfill.js';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { silentLogger } from '../../core/logging/logger.js';
import { NodeConfigSchema } from '../../core/config/node-config.js';
import { SourceRouter } from '../../core/registry/source-router.js';
import { StorageRegistry } from '../../core/registry/storage-registry.js';
import { createMetricsRegistry } from '../../core/metrics/metrics.js';
import { PeerRole } from '../../core/roles/peer/peer-role.js';
import { DiskStorage } from '../../storage/disk/disk-storage.js';
import { tmpDir } from './env.js';

/** A peer daemon in this process (no scheduler: it goes to the origin) linked to the manager with `token`; stopped in teardown unless stopped before. */
export async function startLinkedPeer(t: ExecutionContext, m: { url: string }, token: string, o: { seed?: boolean; hostname: string; sources?: SourceRouter; uploadRateLimit?: number }) {
  const dataDir = await tmpDir(t, 'd7y-linked-peer-');
  const config = NodeConfigSchema.parse({
    dataDir,
    peer: {
      seed: o.seed ?? false, schedulers: [], host: { hostname: o.hostname }, upload: { port: 0, rateLimit: o.uploadRateLimit ?? 0 }, rpc: { port: 0 }, pieceHttp: { port: 0 },
      proxy: { enabled: false }, metrics: { enabled: false },
      manager: { url: m.url, token, cluster: 'seeds', keepaliveInterval: '200ms', schedulerRefreshInterval: '60s' },
    },
  });
  const storage = new StorageRegistry();
  storage.add(new DiskStorage({ dir: join(dataDir, 'pieces'), logger: silentLogger() }));
  const role = new PeerRole(config, silentLogger(), o.sources ?? new SourceRouter(), storage, createMetricsRegistry());
  await role.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await role.stop();
  };
  t.teardown(stop);
  return { role, dataDir, stop };
}

