import type { Command } from 'commander';
import { registerTaskCommand } from './task.js';

/** Adds one command (and its subcommands) to the program. */
export type CommandRegistrar = (program: Command) => void;

/** Every top-level command, in help order. One file per command. */
export const commandRegistrars: CommandRegistrar[] = [
  registerTaskCommand,
];
