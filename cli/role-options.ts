import { join } from 'node:path';
import { createLogger, loadNodeConfig, PeerConfigSchema, type Logger, type NodeConfig } from '../core/index.js';

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

/** The seed peer of `d7y up`: the peer section with seed mode on, its own data dir and random ports. */
export function seedPeerConfig(config: NodeConfig): NodeConfig {
  const raw: Record<string, unknown> = { ...config.peer, seed: true };
  for (const key of Object.keys(raw)) {
    if (/port$/i.test(key)) raw[key] = 0;
    if (/socket/i.test(key)) delete raw[key];
  }
  return { ...config, dataDir: join(config.dataDir, 'seed-peer'), peer: PeerConfigSchema.parse(raw) };
}
