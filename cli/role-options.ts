import { join } from 'node:path';
import {
  createLogger, D7yError, loadNodeConfig, nodeCredentialPath, PeerConfigSchema, SchedulerConfigSchema, type Logger, type NodeConfig,
} from '../core/index.js';
import type { ManagerRole } from '../core/roles/manager/manager-role.js';
import type { ComposedRole, RoleSpec } from '../plugins/index.js';

export interface RoleCommandOptions {
  config?: string;
  dataDir?: string;
  pluginsFile?: string;
}

/** Loads the node config for a role command: --config file + D7Y_* environment + flags. */
export async function loadRoleConfig(opts: RoleCommandOptions): Promise<NodeConfig> {
  const env = { ...process.env };
  if (opts.dataDir) env.D7Y_DATA_DIR = JSON.stringify(opts.dataDir);
  if (opts.pluginsFile) env.D7Y_PLUGINS_FILE = JSON.stringify(opts.pluginsFile);
  return loadNodeConfig(opts.config, env);
}

export function roleLogger(config: NodeConfig): Logger {
  return createLogger({ level: config.log.level });
}

/**
 * The seed peer of `d7y up`: the peer section in seed mode, with its own data dir (so its storage
 * and socket never collide with the normal peer's) and random ports.
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
    },
  };
}

/**
 * The roles of `d7y up`, in start order: the manager, then the scheduler, the seed peer and the
 * peer, each linked to that manager (its own URL and the node credential kept in
 * `nodeCredentialPath(dataDir)`) unless its config has a `manager` section, which wins.
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
  return [
    { role: 'manager', config },
    {
      role: 'scheduler', config,
      prepare: async (started) => {
        if (!config.scheduler.manager) config.scheduler.manager = SchedulerConfigSchema.shape.manager.unwrap().parse(await nodeLink(started));
      },
    },
    ...peers.map(({ config: c, label }): RoleSpec => ({
      role: 'peer', config: c, label,
      prepare: async (started) => {
        if (!c.peer.manager) c.peer.manager = PeerConfigSchema.shape.manager.unwrap().parse(await nodeLink(started));
      },
    })),
  ];
}

/** Silences gRPC's own logging (d7y reports gRPC failures itself) unless GRPC_VERBOSITY asks for it. */
export async function quietGrpcLogs(): Promise<void> {
  if (process.env.GRPC_VERBOSITY) return;
  const { logVerbosity, setLogVerbosity } = await import('@grpc/grpc-js');
  setLogVerbosity(logVerbosity.NONE);
}
