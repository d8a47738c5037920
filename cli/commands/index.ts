import type { Command } from '../commander.js';

/** Adds one command (and its subcommands) to the program. */
export type CommandRegistrar = (program: Command) => void;

/** A top-level command file: the command names it adds and how to load its registrar. */
export interface CommandModule {
  names: readonly string[];
  load(): Promise<CommandRegistrar>;
}

/** Role commands, each a daemon (see roles.ts). */
const ROLE_NAMES = ['manager', 'scheduler', 'peer', 'up'] as const;

/**
 * Every top-level command, in help order, one file per command. A run of one command loads only
 * its file (see buildProgram): `d7y get` on a busy host pays for none of the others.
 */
export const commandModules: CommandModule[] = [
  { names: ROLE_NAMES, load: async () => (await import('./roles.js')).registerRoleCommands },
  { names: ['config'], load: async () => (await import('./config.js')).registerConfigCommand },
  { names: ['plugin'], load: async () => (await import('./plugin.js')).registerPluginCommand },
  { names: ['task'], load: async () => (await import('./task.js')).registerTaskCommand },
  { names: ['get'], load: async () => (await import('./get.js')).registerGetCommand },
  { names: ['cache'], load: async () => (await import('./cache.js')).registerCacheCommand },
  { names: ['sync'], load: async () => (await import('./sync.js')).registerSyncCommand },
  { names: ['push'], load: async () => (await import('./push.js')).registerPushCommand },
  { names: ['preheat'], load: async () => (await import('./preheat.js')).registerPreheatCommand },
  { names: ['job'], load: async () => (await import('./job.js')).registerJobCommand },
  { names: ['login', 'logout'], load: async () => (await import('./login.js')).registerLoginCommands },
  { names: ['passwd'], load: async () => (await import('./passwd.js')).registerPasswdCommand },
  { names: ['token'], load: async () => (await import('./token.js')).registerTokenCommand },
  { names: ['audit'], load: async () => (await import('./audit.js')).registerAuditCommand },
  { names: ['experiment'], load: async () => (await import('./experiment.js')).registerExperimentCommand },
  { names: ['init'], load: async () => (await import('./init.js')).registerInitCommand },
  { names: ['proxy'], load: async () => (await import('./proxy.js')).registerProxyCommand },
  { names: ['cert'], load: async () => (await import('./cert.js')).registerCertCommand },
  { names: ['version'], load: async () => (await import('./version.js')).registerVersionCommand },
];
