import { ROLE_NAMES, type RoleName } from '../core/contracts/plugin.js';
import { D7yError } from '../core/errors/d7y-error.js';
import type { RoleSpec } from '../plugins/index.js';
import type { NodeConfig } from '../core/config/node-config.js';
import { exitCodeOf } from './cli-error.js';

/** Options of `d7y config validate`. */
export interface ValidateOptions {
  role?: string;
  pluginsFile?: string;
  json?: boolean;
  /** Also print the effective config (file, D7Y_* variables, defaults) with durations, sizes and rates in units. */
  print?: boolean;
}

/** One thing wrong with a config file or a plugin it loads, as `--json` reports it. */
export interface ValidationProblem {
  /** `read`, `parse` and `schema` for the file itself; a plugin loading phase for a plugin. */
  phase: string;
  /** JSON path in the config file (`scheduler.listen.port`) or in plugins.json (`plugins[2].config`); '' for the whole file. */
  path: string;
  message: string;
  fix?: string;
  plugin?: string;
}

type Detail = { path?: string; message?: string; plugin?: string; phase?: string; fix?: string };

/** The problems an error of validation carries: each with its path and phase. */
export function problemsOf(err: unknown): ValidationProblem[] {
  if (!(err instanceof D7yError)) return [{ phase: 'compose', path: '', message: err instanceof Error ? err.message : String(err) }];
  const listed = (err.details?.problems ?? []) as Detail[];
  if (listed.length) {
    return listed.map((p) => ({
      phase: p.phase ?? 'schema', path: p.path ?? '', message: p.message ?? err.message,
      fix: p.fix ?? (p.phase ? err.fix : `correct the value at ${p.path || 'the top level'}`), ...(p.plugin ? { plugin: p.plugin } : {}),
    }));
  }
  const phase = err.code === 'D7Y_CONFIG_NOT_FOUND' ? 'read' : err.code === 'D7Y_CONFIG_INVALID' ? 'parse' : 'compose';
  return [{ phase, path: '', message: err.message, fix: err.fix }];
}

async function validate(file: string, opts: ValidateOptions, roles: RoleName[]): Promise<unknown> {
  const { loadRoleConfig } = await import('./role-options.js');
  const { NodeRunner, seedPeerConfig } = await import('../plugins/index.js');
  const { silentLogger } = await import('../core/index.js');
  const nodeConfig = await loadRoleConfig({ config: file, pluginsFile: opts.pluginsFile });
  const specs: RoleSpec[] = roles.map((role) => ({ role, config: nodeConfig }));
  if (!opts.role) specs.push({ role: 'peer', config: seedPeerConfig(nodeConfig), label: 'seed-peer' });
  await new NodeRunner(specs, silentLogger(), opts.pluginsFile).compose();
  return effectiveConfig(nodeConfig, opts.role as RoleName | undefined);
}

/** The node config as a config file would say it (units, keys in units), reduced to one role's section. */
async function effectiveConfig(config: NodeConfig, role?: RoleName): Promise<unknown> {
  const { NodeConfigSchema } = await import('../core/config/node-config.js');
  const { configInUnits } = await import('../core/config/unit-schemas.js');
  const all = configInUnits(NodeConfigSchema, config) as Record<string, unknown>;
  if (!role) return all;
  const { manager, scheduler, peer, ...shared } = all;
  return { ...shared, [role]: { manager, scheduler, peer }[role] };
}

/**
 * `d7y config validate <file>`: composes every role (or one) without starting it. With `--json`,
 * one object on stdout (`ok`, `problems`), and the exit code the error would have given.
 */
export async function validateConfigFile(file: string, opts: ValidateOptions): Promise<void> {
  if (opts.role && !(ROLE_NAMES as readonly string[]).includes(opts.role)) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `unknown role "${opts.role}"`, { fix: `use one of: ${ROLE_NAMES.join(', ')}` });
  }
  const roles = opts.role ? [opts.role as RoleName] : [...ROLE_NAMES];
  if (!opts.json) {
    const config = await validate(file, opts, roles);
    process.stdout.write(`${file}: valid for ${roles.join(', ')}\n`);
    if (opts.print) process.stdout.write((await import('yaml')).stringify(config));
    return;
  }
  let problems: ValidationProblem[] = [];
  let config: unknown;
  try {
    config = await validate(file, opts, roles);
  } catch (err) {
    problems = problemsOf(err);
    process.exitCode = exitCodeOf(err);
  }
  process.stdout.write(`${JSON.stringify({ ok: problems.length === 0, file, roles, problems, ...(opts.print && config !== undefined && { config }) }, null, 2)}\n`);
}
