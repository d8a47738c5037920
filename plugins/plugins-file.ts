import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { D7yError, ROLE_NAMES } from '../core/index.js';
import { formatIssues } from '../core/config/config-loader.js';

const RoleSchema = z.enum(ROLE_NAMES);

export const PluginEntrySchema = z.strictObject({
  /** The plugin's name: a built-in (`http`, `disk`, …) or the manifest name of an installed package. */
  name: z.string().min(1).regex(/^[a-z0-9@][a-z0-9._/-]*$/i, 'expected a plugin name such as "http" or "my-source"'),
  /** npm package providing it; defaults to `d7y-plugin-<name>` for non-built-ins. */
  package: z.string().min(1).optional(),
  enabled: z.boolean().default(true),
  /** Roles to load it in; defaults to every role its manifest supports. */
  roles: z.array(RoleSchema).min(1).optional(),
  config: z.unknown().optional(),
  /** `abort` (default) fails the start; `continue` logs the problem and starts without the plugin. */
  onFailure: z.enum(['abort', 'continue']).default('abort'),
});

const VariantSchema = z.strictObject({
  name: z.string().min(1),
  evaluator: z.string().min(1),
  weight: z.number().positive().max(100),
});

export const ExperimentSchema = z.strictObject({
  id: z.string().min(1).regex(/^[A-Za-z0-9._-]+$/, 'expected letters, digits, ".", "_" or "-"'),
  bucketBy: z.enum(['task', 'host']).default('task'),
  variants: z.array(VariantSchema).min(2, 'an experiment needs at least two variants'),
}).superRefine((exp, ctx) => {
  const sum = exp.variants.reduce((s, v) => s + v.weight, 0);
  if (Math.abs(sum - 100) > 1e-9) {
    ctx.addIssue({ code: 'custom', path: ['variants'], message: `variant weights must sum to 100, they sum to ${sum}` });
  }
  const names = new Set<string>();
  exp.variants.forEach((v, i) => {
    if (names.has(v.name)) ctx.addIssue({ code: 'custom', path: ['variants', i, 'name'], message: `duplicate variant name "${v.name}"` });
    names.add(v.name);
  });
});

export const PluginsFileSchema = z.strictObject({
  $schema: z.string().optional(),
  plugins: z.array(PluginEntrySchema).default([]),
  scheduler: z.strictObject({
    evaluator: z.string().min(1).default('default'),
    experiment: ExperimentSchema.optional(),
  }).prefault({}),
}).superRefine((file, ctx) => {
  const seen = new Map<string, number>();
  file.plugins.forEach((p, i) => {
    const first = seen.get(p.name);
    if (first !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['plugins', i, 'name'], message: `plugin "${p.name}" is listed twice (also at plugins[${first}])` });
    } else seen.set(p.name, i);
  });
});

export type PluginEntry = z.infer<typeof PluginEntrySchema>;
export type PluginsFile = z.infer<typeof PluginsFileSchema>;

/** The plugins.json shipped with d7y (the built-in defaults). */
export const shippedPluginsFile = resolve(dirname(fileURLToPath(import.meta.url)), '../../plugins.json');

/** Which plugins.json to use: the given one, D7Y_PLUGINS_FILE, ./plugins.json, else the shipped one. */
export function locatePluginsFile(explicit?: string): string {
  if (explicit) return resolve(explicit);
  if (process.env.D7Y_PLUGINS_FILE) return resolve(process.env.D7Y_PLUGINS_FILE);
  const local = join(process.cwd(), 'plugins.json');
  return existsSync(local) ? local : shippedPluginsFile;
}

export function parsePluginsFile(data: unknown, where: string): PluginsFile {
  const result = PluginsFileSchema.safeParse(data);
  if (!result.success) {
    const lines = formatIssues(where, result.error.issues);
    throw new D7yError('D7Y_CONFIG_INVALID', `invalid plugins file:\n  ${lines.join('\n  ')}`, {
      fix: 'correct the entries listed above (see README: plugins.json)', details: { issues: lines },
    });
  }
  return result.data;
}

export async function readPluginsFile(file: string): Promise<PluginsFile> {
  return parsePluginsFile(await readPluginsFileRaw(file), file);
}

/** The file's JSON as written (no defaults filled in), for edits that keep the user's choices. */
export async function readPluginsFileRaw(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new D7yError('D7Y_CONFIG_NOT_FOUND', `cannot read plugins file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      fix: 'create it (copy the plugins.json shipped with d7y) or point to it with --plugins-file', cause: err,
    });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new D7yError('D7Y_CONFIG_INVALID', `${file} is not valid JSON: ${(err as Error).message}`, {
      fix: 'fix the JSON syntax at the position shown', cause: err,
    });
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new D7yError('D7Y_CONFIG_INVALID', `${file}: the top level must be an object with a "plugins" array`, {
      fix: 'start from the plugins.json shipped with d7y',
    });
  }
  return data as Record<string, unknown>;
}

/** Writes plugins.json atomically (temp file + rename), so a crash never leaves half a file. */
export async function writePluginsFile(file: string, content: unknown): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(content, null, 2)}\n`, 'utf8');
  await rename(tmp, file);
}
