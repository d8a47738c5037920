import type { Registry } from 'prom-client';
import { D7yError } from '../errors/d7y-error.js';
import type { Logger } from '../logging/logger.js';
import type { Evaluator } from './evaluator.js';
import type { SourceClient } from './source-client.js';
import type { Startable } from './startable.js';
import type { StorageMedium } from './storage-medium.js';

export const ROLE_NAMES = ['manager', 'scheduler', 'peer'] as const;
export type RoleName = (typeof ROLE_NAMES)[number];

export const PLUGIN_KINDS = ['source', 'evaluator', 'storage'] as const;
export type PluginKind = (typeof PLUGIN_KINDS)[number];

/** The plugin API versions this host can load. A plugin names the one it was written for. */
export const PLUGIN_API_VERSIONS = ['1'] as const;
export const PLUGIN_API_VERSION = '1';

/**
 * What a plugin says about itself. `provides` and `requires` are capabilities:
 * `source:<scheme>`, `evaluator:<name>`, `storage:<name>`. The host checks after `register`
 * that the plugin added exactly what it claims to provide, and that every `requires` is provided
 * by some plugin loaded in the same role.
 */
export interface PluginManifest {
  name: string;
  version: string;
  kind: PluginKind;
  apiVersion: string;
  /** Roles the plugin can serve. */
  roles: RoleName[];
  provides: string[];
  requires?: string[];
  description?: string;
}

/** The narrow extension points a plugin registers through; never the raw container. */
export interface PluginContext<C = unknown> {
  readonly pluginName: string;
  readonly role: RoleName;
  /** The plugin's config as returned by its `parseConfig`. */
  readonly config: C;
  readonly logger: Logger;
  readonly metrics: Registry;
  /** A directory the plugin may keep files in (created on demand by the plugin). */
  readonly dataDir: string;
  readonly sources: { add(client: SourceClient): void };
  readonly evaluators: { add(evaluator: Evaluator): void };
  readonly storage: { add(medium: StorageMedium): void };
  /** Resources started with the role and stopped, in reverse order, with it. */
  readonly lifecycle: { add(resource: Startable): void };
}

export interface D7yPlugin<C = unknown> {
  manifest: PluginManifest;
  /** Validates the raw `config` of plugins.json. Throw (a zod error is best) to refuse it. */
  parseConfig?(raw: unknown): C;
  register(ctx: PluginContext<C>): void | Promise<void>;
}

const PLUGIN_BRAND = Symbol.for('d7y:plugin');

/**
 * Gives a plugin object its types and marks it as a d7y plugin: a non-enumerable
 * `Symbol.for('d7y:plugin')` property, which any copy of d7y recognises. Returns the same object
 * (a frozen object comes back as a marked object inheriting from it).
 */
export function definePlugin<C>(plugin: D7yPlugin<C>): D7yPlugin<C> {
  if (typeof plugin !== 'object' || plugin === null || typeof plugin.register !== 'function') {
    throw new D7yError('D7Y_PLUGIN_INVALID', 'definePlugin needs a plugin object with a manifest and a register(ctx) function', {
      fix: 'call definePlugin({ manifest: { name, version, kind, apiVersion, roles, provides }, register(ctx) { ... } })',
    });
  }
  if (isDefinedPlugin(plugin)) return plugin;
  const mark = { value: true, enumerable: false, writable: false, configurable: false };
  return Object.isExtensible(plugin) ? Object.defineProperty(plugin, PLUGIN_BRAND, mark) : Object.create(plugin, { [PLUGIN_BRAND]: mark });
}

/** True for an object made by `definePlugin` (of this or any other copy of d7y). */
export function isDefinedPlugin(value: unknown): value is D7yPlugin {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[PLUGIN_BRAND] === true;
}
