import { createRequire } from 'node:module';
import type * as Commander from 'commander';

// Required as CommonJS: importing commander through its ESM wrapper makes node scan the package
// for named exports, ~12 ms more CPU at every start of the CLI.
const commander = createRequire(import.meta.url)('commander') as typeof Commander;

export const Command = commander.Command;
export type Command = Commander.Command;
export const Option = commander.Option;
export type Option = Commander.Option;
export const CommanderError = commander.CommanderError;
export type CommanderError = Commander.CommanderError;
