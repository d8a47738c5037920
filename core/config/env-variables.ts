import type { z } from 'zod';
import { D7yError } from '../errors/d7y-error.js';
import { LOG_LEVELS } from '../logging/log-levels.js';
import { pairedKey } from './unit-schemas.js';

/**
 * Every `D7Y_*` variable d7y (or its tests and benchmarks) reads for another purpose than a config
 * path, with what it is for. Any other `D7Y_*` variable that looks like a config path must be one.
 * (`D7Y_DATA_DIR`, `D7Y_PLUGINS_FILE` and `D7Y_PLUGIN_DIR` are config paths: `dataDir`, `pluginsFile`, `pluginDir`.)
 */
export const D7Y_OTHER_VARIABLES: Readonly<Record<string, string>> = {
  D7Y_LOG_LEVEL: 'log level; wins over log.level in the config file',
  D7Y_DEBUG: 'CLI errors show their cause and stack',
  D7Y_MANAGER_URL: 'manager of the manager commands (--manager)',
  D7Y_TOKEN: 'personal access token of the open-API commands: preheat, job (--token)',
  D7Y_SESSION_TOKEN: 'console session token of the console commands: token, audit, passwd (--token)',
  D7Y_PASSWORD: 'password of d7y login, and of --user for the console commands',
  D7Y_PG_BIN: 'tests: where the PostgreSQL binaries are',
  D7Y_TRACE_FILE: 'tests: where a traced d7y process lists the modules it loads',
  D7Y_HEAP_FILE: 'tests: where a probed d7y process reports its heap settings',
  D7Y_TEST_LOGS: 'tests: a folder where the output of every d7y process a test starts is kept',
};

/** Prefixes of variables for other purposes: `D7Y_BENCH_*` (benchmarks, see bench/README.md). */
export const D7Y_OTHER_PREFIXES: readonly string[] = ['D7Y_BENCH_'];

type Shape = Record<string, z.ZodType>;
interface ZodDef { type: string; shape?: Shape; innerType?: z.ZodType; in?: z.ZodType }

/** The object shape of a schema under its wrappers (default, optional, ...); undefined for records, scalars etc. */
function shapeOf(schema: z.ZodType): Shape | undefined {
  let cur: z.ZodType | undefined = schema;
  for (let i = 0; cur && i < 10; i++) {
    const def: ZodDef = (cur as unknown as { _zod: { def: ZodDef } })._zod.def;
    if (def.type === 'object') return def.shape;
    cur = def.innerType ?? (def.type === 'pipe' ? def.in : undefined);
  }
  return undefined;
}

function camel(segment: string): string {
  return segment.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function snake(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** Edits (insert, delete, substitute, swap two neighbours) from a to b. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The known key closest to `segment` (SNAKE_CASE), if close enough to be a typo. */
function closest(segment: string, keys: readonly string[]): string | undefined {
  let best: { key: string; d: number } | undefined;
  for (const key of keys) {
    const d = distance(segment, snake(key));
    if (!best || d < best.d) best = { key, d };
  }
  return best && best.d <= Math.max(1, Math.floor(segment.length / 3)) ? best.key : undefined;
}

/** One unknown variable: its name, the path it would set, and the variable it was probably meant to be. */
export interface UnknownEnvVariable {
  name: string;
  path: string;
  suggestion?: string;
  known: string[];
}

/**
 * Checks `D7Y_*` names against the schema: undefined when the name is a config path (or not one at
 * all: no `__` and a first level unlike any key), else what is wrong with it.
 */
export function checkEnvName(name: string, schema: z.ZodType): UnknownEnvVariable | undefined {
  if (name in D7Y_OTHER_VARIABLES || D7Y_OTHER_PREFIXES.some((p) => name.startsWith(p))) return undefined;
  const segments = name.slice(4).split('__');
  const top = shapeOf(schema) ?? {};
  if (segments.length === 1 && !(camel(segments[0]) in top) && !closest(segments[0], Object.keys(top))) return undefined;
  let shape: Shape | undefined = top;
  const fixed: string[] = [];
  let unknown: { known: string[] } | undefined;
  for (const seg of segments) {
    if (!shape) { fixed.push(seg); continue; }
    const key = camel(seg);
    if (key in shape && seg !== '') {
      fixed.push(seg);
      shape = shapeOf(shape[key]);
      continue;
    }
    const keys = Object.keys(shape);
    unknown ??= { known: keys.map(snake) };
    const guess = closest(seg, keys);
    if (!guess) return { name, path: segments.map(camel).join('.'), known: unknown.known };
    fixed.push(snake(guess));
    shape = shapeOf(shape[guess]);
  }
  if (!unknown) return undefined;
  return { name, path: segments.map(camel).join('.'), suggestion: `D7Y_${fixed.join('__')}`, known: unknown.known };
}

function envValue(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

/**
 * Sets `path` in the data; a key in units and its legacy key are one setting, so setting one
 * drops the other from the file's values (`D7Y_PEER__DOWNLOAD__PIECE_TIMEOUT=10s` wins over the
 * file's `pieceTimeoutMs`).
 */
function setPath(data: Record<string, unknown>, path: string[], value: unknown, schema?: z.ZodType): void {
  let node = data;
  let parent = schema;
  for (const seg of path.slice(0, -1)) {
    const next = node[seg];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[seg] = {};
    node = node[seg] as Record<string, unknown>;
    parent = parent && shapeOf(parent)?.[seg];
  }
  const key = path[path.length - 1];
  const sibling = parent && pairedKey(parent, key);
  if (sibling) delete node[sibling];
  node[key] = value;
}

/**
 * Applies `D7Y_*` environment overrides: `__` separates levels and each level is SNAKE_CASE
 * turned camelCase, so `D7Y_SCHEDULER__LISTEN__PORT=9000` sets `scheduler.listen.port`; then
 * `D7Y_LOG_LEVEL` sets `log.level`. A variable that looks like a config path but is not one of the
 * schema is D7Y_CONFIG_INVALID naming it, with the closest known variable; so is a bad D7Y_LOG_LEVEL.
 * Returns the names applied.
 */
export function applyEnvOverrides(data: Record<string, unknown>, env: NodeJS.ProcessEnv, schema: z.ZodType): string[] {
  const applied: string[] = [];
  const unknown: UnknownEnvVariable[] = [];
  for (const [name, raw] of Object.entries(env).sort(([a], [b]) => a.localeCompare(b))) {
    if (!name.startsWith('D7Y_') || raw === undefined) continue;
    if (name in D7Y_OTHER_VARIABLES || D7Y_OTHER_PREFIXES.some((p) => name.startsWith(p))) continue;
    const problem = checkEnvName(name, schema);
    if (problem) { unknown.push(problem); continue; }
    const path = name.slice(4).split('__').map(camel);
    if (path.length === 1 && !((shapeOf(schema) ?? {})[path[0]])) continue;
    setPath(data, path, envValue(raw), schema);
    applied.push(name);
  }
  if (unknown.length) throw unknownVariablesError(unknown);
  const level = env.D7Y_LOG_LEVEL;
  if (level !== undefined) {
    if (!(LOG_LEVELS as readonly string[]).includes(level)) {
      throw new D7yError('D7Y_CONFIG_INVALID', `D7Y_LOG_LEVEL=${JSON.stringify(level)} is not a log level`, {
        fix: `set D7Y_LOG_LEVEL to one of: ${LOG_LEVELS.join(', ')} (or unset it)`,
        details: { problems: [{ phase: 'env', path: 'D7Y_LOG_LEVEL', message: `expected one of ${LOG_LEVELS.join(', ')}` }] },
      });
    }
    setPath(data, ['log', 'level'], level);
    applied.push('D7Y_LOG_LEVEL');
  }
  return applied;
}

function unknownVariablesError(unknown: UnknownEnvVariable[]): D7yError {
  const lines = unknown.map((u) => `unknown environment variable ${u.name} (no config key ${u.path})${u.suggestion ? `; did you mean ${u.suggestion}?` : `; known at that level: ${u.known.join(', ')}`}`);
  const fix = unknown.length === 1 && unknown[0].suggestion
    ? `rename it to ${unknown[0].suggestion}, or unset it`
    : 'rename or unset the variables listed above (D7Y_<KEY>__<KEY>…, each level SNAKE_CASE)';
  return new D7yError('D7Y_CONFIG_INVALID', lines.length === 1 ? lines[0] : `unknown environment variables:\n  ${lines.join('\n  ')}`, {
    fix,
    details: { problems: unknown.map((u, i) => ({ phase: 'env', path: u.name, message: lines[i], fix: u.suggestion ? `rename it to ${u.suggestion}` : fix })) },
  });
}
