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

/** Silences gRPC's own logging (d7y reports gRPC failures itself) unless GRPC_VERBOSITY asks for it. */
export async function quietGrpcLogs(): Promise<void> {
  if (process.env.GRPC_VERBOSITY) return;
  const { logVerbosity, setLogVerbosity } = await import('@grpc/grpc-js');
  setLogVerbosity(logVerbosity.NONE);
}
