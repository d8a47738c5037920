import { createLogger } from '../core/logging/logger.js';
import { loadNodeConfig } from '../core/config/config-loader.js';
import type { Logger } from '../core/index.js';
import type { NodeConfig } from '../core/config/node-config.js';
import type { LogFormat, LogLevel } from '../core/logging/log-levels.js';

export interface RoleCommandOptions {
  config?: string;
  dataDir?: string;
  pluginsFile?: string;
  logLevel?: LogLevel;
  logFormat?: LogFormat;
}

/**
 * Loads the node config for a role command: --config file, then D7Y_* environment, then flags
 * (so the log level is --log-level > D7Y_LOG_LEVEL > the file's log.level > info).
 */
export async function loadRoleConfig(opts: RoleCommandOptions): Promise<NodeConfig> {
  const env = { ...process.env };
  if (opts.dataDir) env.D7Y_DATA_DIR = JSON.stringify(opts.dataDir);
  if (opts.pluginsFile) env.D7Y_PLUGINS_FILE = JSON.stringify(opts.pluginsFile);
  const config = await loadNodeConfig(opts.config, env);
  return {
    ...config,
    log: { level: opts.logLevel ?? config.log.level, format: opts.logFormat ?? config.log.format },
  };
}

/** The logger of a node: its config's level and format (pretty on a terminal unless `json`). */
export function roleLogger(config: NodeConfig): Logger {
  return createLogger({ level: config.log.level, format: config.log.format });
}

/** Silences gRPC's own logging (d7y reports gRPC failures itself) unless GRPC_VERBOSITY asks for it. */
export async function quietGrpcLogs(): Promise<void> {
  if (process.env.GRPC_VERBOSITY) return;
  const { logVerbosity, setLogVerbosity } = await import('@grpc/grpc-js');
  setLogVerbosity(logVerbosity.NONE);
}
