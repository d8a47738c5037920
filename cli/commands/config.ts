import type { Command } from 'commander';
import type { RoleSpec } from '../../plugins/index.js';
import { ROLE_NAMES, type RoleName } from '../../core/contracts/plugin.js';
import { D7yError } from '../../core/errors/d7y-error.js';

export function registerConfigCommand(program: Command): void {
  const config = program.command('config').description('check configuration files');
  config.command('validate')
    .description('validate a config file and the plugins it loads, without starting anything')
    .argument('<file>', 'config file (YAML or JSON)')
    .option('--role <role>', `only this role (${ROLE_NAMES.join(', ')}); default all`)
    .option('--plugins-file <file>', 'plugins.json to check with it')
    .action(async (file: string, opts: { role?: string; pluginsFile?: string }) => {
      if (opts.role && !(ROLE_NAMES as readonly string[]).includes(opts.role)) {
        throw new D7yError('D7Y_INVALID_ARGUMENT', `unknown role "${opts.role}"`, { fix: `use one of: ${ROLE_NAMES.join(', ')}` });
      }
      const { loadRoleConfig } = await import('../role-options.js');
      const { seedPeerConfig } = await import('../../plugins/index.js');
      const { NodeRunner } = await import('../../plugins/index.js');
      const { silentLogger } = await import('../../core/index.js');
      const nodeConfig = await loadRoleConfig({ config: file, pluginsFile: opts.pluginsFile });
      const roles = opts.role ? [opts.role as RoleName] : [...ROLE_NAMES];
      const specs: RoleSpec[] = roles.map((role) => ({ role, config: nodeConfig }));
      if (!opts.role) specs.push({ role: 'peer', config: seedPeerConfig(nodeConfig), label: 'seed-peer' });
      await new NodeRunner(specs, silentLogger(), opts.pluginsFile).compose();
      process.stdout.write(`${file}: valid for ${roles.join(', ')}\n`);
    });
}
