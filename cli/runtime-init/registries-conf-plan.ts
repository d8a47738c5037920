import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { D7yError } from '../../core/errors/d7y-error.js';
import { DOCKER_HUB_SERVER, type ProxyAddress, type RegistryAddress } from './addresses.js';
import { readExisting } from './config-file.js';
import { rerunCommand, type RuntimePlan } from './runtime-plan.js';
import { editToml, isTable, ownHeader, parseTomlFile, type Table } from './toml-file.js';

export const DEFAULT_CONTAINERS_DIR = '/etc/containers';
/** Drop-ins load in name order and a later `[[registry]]` with the same prefix wins: this name sorts last. */
export const DROP_IN_NAME = 'zz-d7y-mirror.conf';

export type RegistriesConfRuntime = 'cri-o' | 'podman';

export interface RegistriesConfInitOptions {
  runtime: RegistriesConfRuntime;
  /** The folder holding registries.conf and registries.conf.d/ (/etc/containers; ~/.config/containers rootless). */
  containersDir: string;
  proxy: ProxyAddress;
  /** At most one (see planRegistriesConf); none means docker.io. */
  registries: readonly RegistryAddress[];
}

const HEADER = '# Pulls go through the d7y peer\'s registry mirror first (d7y init). Undo: delete this file.\n\n';

/** The name a `[[registry]]` table answers to: its prefix, else its location. */
const prefixOf = (entry: Table): unknown => entry.prefix ?? entry.location;

function registryEntries(doc: Table, path: string, rerun: string): Table[] {
  const list = doc.registry ?? [];
  if (!Array.isArray(list) || !list.every(isTable)) {
    throw new D7yError('D7Y_CONFIG_INVALID', `${path}: registry is not an array of [[registry]] tables`, { fix: `correct ${path}, then run ${rerun} again` });
  }
  return list;
}

/**
 * The `[[registry]]` table for `name` as the runtime sees it before d7y's drop-in: from
 * registries.conf, then the drop-ins that load before ours (the last one wins). A v1 registries.conf
 * is refused: containers/image does not mix it with v2 drop-ins.
 */
async function inheritedEntry(containersDir: string, name: string, rerun: string): Promise<Table | undefined> {
  const main = join(containersDir, 'registries.conf');
  const dropInDir = join(containersDir, 'registries.conf.d');
  const names = await readdir(dropInDir).catch(() => [] as string[]);
  const files = [main, ...names.filter((n) => n.endsWith('.conf') && n < DROP_IN_NAME).sort().map((n) => join(dropInDir, n))];
  let found: Table | undefined;
  for (const file of files) {
    const text = await readExisting(file);
    if (text === null) continue;
    const doc = parseTomlFile(file, text, rerun);
    if (file === main && doc.registries !== undefined) {
      throw new D7yError('D7Y_CONFIG_INVALID', `${main} is in the version 1 format ([registries.search] ...), which cannot be combined with drop-in files`, {
        fix: `convert ${main} to the version 2 format (containers-registries.conf(5)), then run ${rerun} again`,
      });
    }
    found = registryEntries(doc, file, rerun).find((e) => prefixOf(e) === name) ?? found;
  }
  return found;
}

/**
 * CRI-O and podman (containers-registries.conf v2): a drop-in `registries.conf.d/zz-d7y-mirror.conf`
 * with a `[[registry]]` for the registry whose first `[[registry.mirror]]` is the peer's mirror
 * (insecure: plain HTTP on loopback). Settings the registry already had in registries.conf are
 * carried over, because a drop-in's table replaces the earlier one with the same prefix.
 *
 * A registries.conf mirror request carries neither `?ns=` nor a header, so the mirror cannot tell
 * which registry it is for and fetches from its default upstream: one mirror address can serve one
 * registry only, and more are refused.
 */
export async function planRegistriesConf(opts: RegistriesConfInitOptions): Promise<RuntimePlan> {
  const rerun = rerunCommand(opts.runtime);
  if (opts.registries.length > 1) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `${opts.runtime} cannot send more than one registry through one mirror address (got ${opts.registries.map((r) => r.name).join(', ')})`, {
      fix: 'name one --registry: the one the peer\'s mirror fetches from by default (docker.io unless configured); registries.conf mirror requests do not say which registry they are for',
    });
  }
  const reg = opts.registries[0] ?? { name: 'docker.io', server: DOCKER_HUB_SERVER };
  const path = join(opts.containersDir, 'registries.conf.d', DROP_IN_NAME);
  const before = await readExisting(path);
  const inherited = await inheritedEntry(opts.containersDir, reg.name, rerun);
  const after = editToml(path, before, rerun, (doc) => {
    const entries = registryEntries(doc, path, rerun);
    let entry = entries.find((e) => prefixOf(e) === reg.name);
    if (!entry) {
      entry = inherited ? structuredClone(inherited) : {};
      entries.push(entry);
    }
    entry.prefix = reg.name;
    entry.location ??= reg.name;
    if (reg.server.startsWith('http://')) entry.insecure ??= true;
    const mirrors = entry.mirror === undefined ? [] : entry.mirror;
    if (!Array.isArray(mirrors) || !mirrors.every(isTable)) {
      throw new D7yError('D7Y_CONFIG_INVALID', `${path}: the mirror of ${reg.name} is not an array of [[registry.mirror]] tables`, { fix: `correct ${path}, then run ${rerun} again` });
    }
    const mine = mirrors.find((m) => m.location === opts.proxy.hostPort) ?? { location: opts.proxy.hostPort };
    mine.insecure = true;
    entry.mirror = [mine, ...mirrors.filter((m) => m !== mine)];
    doc.registry = entries;
    const others = entries.filter((e) => e !== entry && Array.isArray(e.mirror) && e.mirror.some((m) => isTable(m) && m.location === opts.proxy.hostPort));
    if (others.length > 0) {
      throw new D7yError('D7Y_CONFLICT', `${path} already sends ${String(prefixOf(others[0]!))} through the mirror at ${opts.proxy.hostPort}; one mirror address can serve one registry`, {
        fix: `delete the [[registry]] of ${String(prefixOf(others[0]!))} from ${path} (or the file), then run ${rerun} --registry ${reg.name} again`,
      });
    }
  }, ownHeader(before, HEADER));
  const notes = [
    `${reg.name} is pulled through the mirror at ${opts.proxy.hostPort}, falling back to ${reg.name} itself`,
    reg.name === 'docker.io'
      ? 'registries.conf mirror requests do not name their registry: the peer\'s mirror fetches them from Docker Hub, its default upstream'
      : `registries.conf mirror requests do not name their registry: the peer's mirror must have ${reg.server} as its default upstream`,
  ];
  return {
    runtime: opts.runtime,
    changes: [{ path, before, after }],
    notes,
    restart: (changed) => {
      if (changed.size === 0) return undefined;
      return opts.runtime === 'cri-o'
        ? 'systemctl reload crio   (CRI-O re-reads registries.conf on SIGHUP; or restart it)'
        : undefined;
    },
  };
}
