import { join } from 'node:path';
import { createLogger } from '../core/logging/logger.js';
import { loadNodeConfig } from '../core/config/config-loader.js';
import type { Logger } from '../core/index.js';
import type { NodeConfig } from '../core/config/node-config.js';

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

/** Silences gRPC's own logging (d7y reports gRPC failures itself) unless GRPC_VERBOSITY asks for it. */
export async function quietGrpcLogs(): Promise<void> {
  if (process.env.GRPC_VERBOSITY) return;
  const { logVerbosity, setLogVerbosity } = await import('@grpc/grpc-js');
  setLogVerbosity(logVerbosity.NONE);
}
