import type { Command } from '../commander.js';
import { ROLE_NAMES } from '../../core/contracts/plugin.js';
import type { ValidateOptions } from '../config-validate.js';

export function registerConfigCommand(program: Command): void {
  const config = program.command('config').description('check configuration files');
  config.command('validate')
    .description('validate a config file and the plugins it loads, without starting anything')
    .argument('<file>', 'config file (YAML or JSON)')
    .option('--role <role>', `only this role (${ROLE_NAMES.join(', ')}); default all`)
    .option('--plugins-file <file>', 'plugins.json to check with it')
    .option('--json', 'machine-readable result: ok, and each problem with its path and phase (same exit status)')
    .option('--print', 'also print the effective config (file, D7Y_* variables, defaults) with durations, sizes and rates in units')
    .action(async (file: string, opts: ValidateOptions) => (await import('../config-validate.js')).validateConfigFile(file, opts));
}
