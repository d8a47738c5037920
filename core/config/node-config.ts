import { z } from 'zod';
import { LOG_FORMATS, LOG_LEVELS } from '../logging/log-levels.js';
import { defaultDataDir, nodeCredentialPath } from './paths.js';
import { ManagerConfigSchema } from './manager-config.js';
import { PeerConfigSchema } from './peer-config.js';
import { SchedulerConfigSchema } from './scheduler-config.js';
import { SecurityConfigSchema } from './security-config.js';

export { defaultDataDir, nodeCredentialPath };

/** The config of one d7y process: shared settings plus one section per role. */
export const NodeConfigSchema = z.strictObject({
  /** Where state lives: storage, databases, sockets, installed plugins. */
  dataDir: z.string().default(defaultDataDir),
  /** plugins.json to load; defaults to ./plugins.json, then the one shipped with d7y. */
  pluginsFile: z.string().optional(),
  /** Where `d7y plugin add` installs npm packages; defaults to <dataDir>/plugins. */
  pluginDir: z.string().optional(),
  log: z.strictObject({
    /** Order: --log-level > D7Y_LOG_LEVEL > this > `info`. */
    level: z.enum(LOG_LEVELS).default('info'),
    /** `json` lines, `pretty` lines for a person, or `auto`: pretty when stderr is a terminal. */
    format: z.enum(LOG_FORMATS).default('auto'),
  }).prefault({}),
  /**
   * OpenTelemetry traces (off by default): spans of each download from the CLI through the daemon
   * to the scheduler and the parents, carrying the task id, sent over OTLP/HTTP to `endpoint`.
   */
  tracing: z.strictObject({
    enabled: z.boolean().default(false),
    /** An OTLP/HTTP traces endpoint (a collector, Jaeger, Tempo). */
    endpoint: z.string().url().default('http://127.0.0.1:4318/v1/traces'),
    /** `service.name` of the spans; the role is added as `d7y.role`. */
    serviceName: z.string().min(1).default('d7y'),
  }).prefault({}),
  /** The cluster credential every role presents and checks on the data plane (see SecurityConfigSchema). */
  security: SecurityConfigSchema.prefault({}),
  manager: ManagerConfigSchema.prefault({}),
  scheduler: SchedulerConfigSchema.prefault({}),
  peer: PeerConfigSchema.prefault({}),
});

export type NodeConfig = z.infer<typeof NodeConfigSchema>;
