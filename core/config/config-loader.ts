import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { D7yError } from '../errors/d7y-error.js';
import { applyEnvOverrides } from './env-variables.js';
import { NodeConfigSchema, type NodeConfig } from './node-config.js';

/** One `path: message` line per zod issue, prefixed with where the value came from. */
export function formatIssues(where: string, issues: readonly { path: readonly PropertyKey[]; message: string }[]): string[] {
  return issues.map((i) => `${where}${i.path.length ? ` at ${formatPath(i.path)}` : ''}: ${i.message}`);
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p, idx) => (typeof p === 'number' ? `[${p}]` : `${idx ? '.' : ''}${String(p)}`)).join('');
}

/** Reads a YAML or JSON file into plain data, with errors that name the file. */
export async function readConfigFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new D7yError('D7Y_CONFIG_NOT_FOUND', `cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      fix: 'check the path given to --config', cause: err,
    });
  }
  try {
    if (extname(file).toLowerCase() === '.json') return JSON.parse(text) as unknown;
    return parseYaml(text) ?? {};
  } catch (err) {
    throw new D7yError('D7Y_CONFIG_INVALID', `${file} is not valid ${extname(file) === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`, {
      fix: 'fix the syntax error at the position shown', cause: err,
    });
  }
}

/** Validates data against a schema; D7Y_CONFIG_INVALID lists every problem with its path. */
export function validateConfig<S extends z.ZodType>(schema: S, data: unknown, where: string): z.infer<S> {
  const result = schema.safeParse(data);
  if (!result.success) {
    const lines = formatIssues(where, result.error.issues);
    throw new D7yError('D7Y_CONFIG_INVALID', `invalid config:\n  ${lines.join('\n  ')}`, {
      fix: 'correct the values listed above',
      details: { issues: lines, problems: result.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })) },
    });
  }
  return result.data;
}

/**
 * Loads the node config: file (YAML or JSON, optional) + D7Y_* environment, validated. An unknown
 * `D7Y_*` config variable or a bad D7Y_LOG_LEVEL is D7Y_CONFIG_INVALID (see applyEnvOverrides).
 */
export async function loadNodeConfig(file?: string, env: NodeJS.ProcessEnv = process.env): Promise<NodeConfig> {
  return nodeConfigOf(file ? await readConfigFile(file) : {}, file ?? 'config', env);
}

/** The node config of settings given as an object (as a config file would hold them), then `D7Y_*` overrides. */
export function nodeConfigOf(raw: unknown, where: string, env: NodeJS.ProcessEnv = process.env): NodeConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new D7yError('D7Y_CONFIG_INVALID', `${where}: the top level must be a mapping of settings`, {
      fix: 'write the config as key: value pairs (see deploy/ for examples)',
    });
  }
  const data = structuredClone(raw) as Record<string, unknown>;
  applyEnvOverrides(data, env, NodeConfigSchema);
  return validateConfig(NodeConfigSchema, data, where);
}
