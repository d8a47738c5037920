import { join } from 'node:path';
import { D7yError } from '../core/errors/d7y-error.js';
import { nodeCredentialPath } from '../core/config/paths.js';
import type { NodeConfig } from '../core/config/node-config.js';
import { PeerConfigSchema } from '../core/config/peer-config.js';
import { SchedulerConfigSchema } from '../core/config/scheduler-config.js';
import type { ManagerRole } from '../core/roles/manager/manager-role.js';
import { ensureGeneratedSecrets, hasClusterSecret } from '../core/protocol/auth/cluster-secrets.js';
import type { Logger } from '../core/logging/logger.js';
import { Tokens } from '../core/tokens.js';
import type { ComposedRole } from './role-composer.js';
import type { RoleSpec } from './node-runner.js';

/**
 * The seed peer of `d7y up`: the peer section in seed mode, with its own data dir (so its storage
 * and socket never collide with the normal peer's) and random ports, but for its metrics listener:
 * the peer's metrics port + 10 (4012 by default; 0 stays 0), so it can be scraped at a known place.
 */
export function seedPeerConfig(config: NodeConfig): NodeConfig {
  const peer = config.peer;
  return {
    ...config,
    dataDir: join(config.dataDir, 'seed-peer'),
    peer: {
      ...peer,
      seed: true,
      dataDir: '.',
      socket: undefined,
      upload: { ...peer.upload, port: 0 },
      rpc: { ...peer.rpc, port: 0 },
      pieceHttp: { ...peer.pieceHttp, port: 0 },
      metrics: { ...peer.metrics, listen: { ...peer.metrics.listen, port: peer.metrics.listen.port && peer.metrics.listen.port + 10 } },
      proxy: { ...peer.proxy, enabled: false },
    },
  };
}

/**
 * The roles of `d7y up`, in start order: the manager, then the scheduler, the seed peer and the
 * peer, each linked to that manager (its own URL and the node credential kept in
 * `nodeCredentialPath(dataDir)`) unless its config has a `manager` section, which wins. Unless the
 * config names a cluster secret, the roles share secrets generated at the first start and kept in
 * `generatedSecretPaths(dataDir)`, so the node's data plane is closed to other processes with no setting.
 */
export function upRoleSpecs(config: NodeConfig): RoleSpec[] {
  let link: Promise<{ url: string; token: string }> | undefined;
  const nodeLink = (started: readonly ComposedRole[]) => {
    const manager = started.find((c) => c.role.name === 'manager')?.role as ManagerRole | undefined;
    if (!manager) throw new D7yError('D7Y_INTERNAL', 'd7y up starts its manager first', { fix: 'report this as a bug' });
    link ??= manager.nodeLink(nodeCredentialPath(config.dataDir));
    return link;
  };
  const peers = [
    { config: seedPeerConfig(config), label: 'seed-peer' },
    { config: { ...config, peer: { ...config.peer, seed: false } }, label: 'peer' },
  ];
  const shareSecrets = async (started: readonly ComposedRole[]): Promise<void> => {
    if (hasClusterSecret(config.security)) return;
    const logger = started[0]!.container.resolve<Logger>(Tokens.Logger);
    // Every role's config shares this security object (the peers' configs are shallow copies).
    Object.assign(config.security, await ensureGeneratedSecrets(config.dataDir, logger));
  };
  return [
    { role: 'manager', config },
    {
      role: 'scheduler', config,
      prepare: async (started) => {
        await shareSecrets(started);
        if (!config.scheduler.manager) config.scheduler.manager = SchedulerConfigSchema.shape.manager.unwrap().parse(await nodeLink(started));
      },
    },
    ...peers.map(({ config: c, label }): RoleSpec => ({
      role: 'peer', config: c, label,
      prepare: async (started) => {
        await shareSecrets(started);
        if (!c.peer.manager) c.peer.manager = PeerConfigSchema.shape.manager.unwrap().parse(await nodeLink(started));
      },
    })),
  ];
}
