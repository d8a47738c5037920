import { Option, type Command } from '../commander.js';
import { ROLE_NAMES } from '../../core/contracts/plugin.js';
import type { AddOptions, CommonOptions } from '../plugin-actions.js';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** The plugin subcommands' code (plugin host, installer, verifier), loaded when one of them runs. */
const actions = () => import('../plugin-actions.js');

export function registerPluginCommand(program: Command): void {
  const plugin = program.command('plugin').description('add, list, verify and remove plugins (sources, evaluators, storage media)');
  const common = (cmd: Command) => cmd
    .option('--plugins-file <file>', 'plugins.json to edit (default ./plugins.json, else the shipped one)')
    .option('--plugin-dir <dir>', 'where npm plugin packages are installed (default ~/.d7y/plugins)');

  common(plugin.command('add'))
    .description('install a plugin with npm, verify it, and record it in plugins.json')
    .argument('<package>', 'npm name (foo means d7y-plugin-foo), @scope/name, a directory, or a tarball from npm pack')
    .addOption(new Option('--config <key=value>', 'plugin config value (repeatable; dotted keys nest)').argParser(collect))
    .option('--roles <roles>', `comma-separated roles to load it in (${ROLE_NAMES.join(', ')})`)
    .option('--no-install', 'do not run npm install: the package is already installed')
    .action(async (spec: string, opts: AddOptions) => (await actions()).addPlugin(spec, opts));

  common(plugin.command('list'))
    .description('list the plugins of plugins.json')
    .option('--json', 'machine-readable output')
    .action(async (opts: CommonOptions & { json?: boolean }) => (await actions()).listPlugins(opts));

  common(plugin.command('remove'))
    .description('remove a plugin from plugins.json (and uninstall its package from the plugin directory)')
    .argument('<name>', 'plugin name as listed by `d7y plugin list`')
    .action(async (name: string, opts: CommonOptions) => (await actions()).removePlugin(name, opts));

  common(plugin.command('verify'))
    .description('run the loading phases of one plugin and show which pass, with the fix for each failure')
    .argument('<name>', 'plugin name in plugins.json, or an installed package name')
    .option('--json', 'machine-readable result: ok, each phase, and each problem with its path (same exit status)')
    .action(async (name: string, opts: CommonOptions & { json?: boolean }) => (await actions()).verifyPluginByName(name, opts));

  common(plugin.command('info'))
    .description('show a plugin\'s manifest, origin and config')
    .argument('<name>', 'plugin name')
    .option('--json', 'machine-readable output')
    .action(async (name: string, opts: CommonOptions & { json?: boolean }) => (await actions()).pluginInfo(name, opts));
}
