import type { Command } from 'commander';
import { registerTaskCommand } from './task.js';
import { registerRoleCommands } from './roles.js';
import { registerConfigCommand } from './config.js';
import { registerPluginCommand } from './plugin.js';
import { registerGetCommand } from './get.js';
import { registerCacheCommand } from './cache.js';
import { registerPreheatCommand } from './preheat.js';
import { registerJobCommand } from './job.js';
import { registerTokenCommand } from './token.js';
import { registerAuditCommand } from './audit.js';
import { registerLoginCommands } from './login.js';
import { registerPasswdCommand } from './passwd.js';
import { registerExperimentCommand } from './experiment.js';
import { registerInitCommand } from './init.js';
import { registerProxyCommand } from './proxy.js';
import { registerCertCommand } from './cert.js';
import { registerVersionCommand } from './version.js';

/** Adds one command (and its subcommands) to the program. */
export type CommandRegistrar = (program: Command) => void;

/** Every top-level command, in help order. One file per command. */
export const commandRegistrars: CommandRegistrar[] = [
  registerRoleCommands,
  registerConfigCommand,
  registerPluginCommand,
  registerTaskCommand,
  registerGetCommand,
  registerCacheCommand,
  registerPreheatCommand,
  registerJobCommand,
  registerLoginCommands,
  registerPasswdCommand,
  registerTokenCommand,
  registerAuditCommand,
  registerExperimentCommand,
  registerInitCommand,
  registerProxyCommand,
  registerCertCommand,
  registerVersionCommand,
];
