import { join, resolve } from 'node:path';
import { D7yError } from '../../core/errors/d7y-error.js';
import type { ProxyAddress, RegistryAddress } from './addresses.js';
import { readExisting, type FileChange } from './config-file.js';
import { rerunCommand, type RuntimePlan } from './runtime-plan.js';
import { editToml, isTable, ownHeader, parseTomlFile, tableAt, type Table } from './toml-file.js';

export const DEFAULT_CONTAINERD_CONFIG = '/etc/containerd/config.toml';
export const DEFAULT_CONTAINERD_CERTS_DIR = '/etc/containerd/certs.d';
/** The header that tells the mirror which registry a request is for (Dragonfly's name, kept for compatibility). */
export const REGISTRY_HEADER = 'X-Dragonfly-Registry';
const CAPABILITIES = ['pull', 'resolve'];
const RERUN = rerunCommand('containerd');
const HOSTS_HEADER = '# Pulls go through the d7y peer\'s registry mirror first (d7y init containerd).\n# Undo: delete the [host] table of the mirror, or this file if d7y created it.\n\n';

export interface ContainerdInitOptions {
  /** The certs.d folder; default: config.toml's `config_path`, else /etc/containerd/certs.d. */
  certsDir?: string;
  /** containerd's config.toml; created (version 2) when absent. */
  configFile: string;
  proxy: ProxyAddress;
  registries: readonly RegistryAddress[];
}

/** The CRI plugin that owns `registry.config_path` in each config.toml version. */
function criPluginId(version: number, path: string): string {
  if (version === 3) return 'io.containerd.cri.v1.images';
  if (version === 2) return 'io.containerd.grpc.v1.cri';
  if (version === 1) return 'cri';
  throw new D7yError('D7Y_CONFIG_INVALID', `${path} has version = ${version}; d7y knows containerd config versions 1, 2 and 3`, {
    fix: `check ${path} (containerd 1.x writes version 2, containerd 2.x version 3), then run ${RERUN} again`,
  });
}

/** The config version containerd would assume: `version`, else 1 for an existing config, 2 for a new one. */
function configVersion(doc: Table, path: string): number {
  const v = doc.version;
  if (v === undefined) return Object.keys(doc).length === 0 ? 2 : 1;
  if (typeof v !== 'number' && typeof v !== 'bigint') {
    throw new D7yError('D7Y_CONFIG_INVALID', `${path}: version is ${JSON.stringify(String(v))}, not a number`, { fix: `set version = 2 (containerd 1.x) or 3 (containerd 2.x) in ${path}` });
  }
  return Number(v);
}

function conflict(path: string): (key: string) => never {
  return (key) => {
    throw new D7yError('D7Y_CONFIG_INVALID', `${path}: ${key} is not a table`, { fix: `correct ${key} in ${path}, then run ${RERUN} again` });
  };
}

/** containerd refuses `config_path` beside the deprecated `mirrors` or `configs.*.tls`; say so before it does. */
function refuseDeprecatedRegistryConfig(registry: Table, prefix: string, path: string): void {
  if (isTable(registry.mirrors) && Object.keys(registry.mirrors).length > 0) {
    throw new D7yError('D7Y_CONFIG_INVALID', `${path} sets ${prefix}.mirrors, which containerd refuses together with config_path (hosts.toml files)`, {
      fix: `move those mirrors into hosts.toml files (containerd docs/hosts.md) and delete ${prefix}.mirrors from ${path}, then run ${RERUN} again`,
    });
  }
  const configs = isTable(registry.configs) ? registry.configs : {};
  const withTls = Object.keys(configs).filter((host) => isTable(configs[host]) && (configs[host] as Table).tls !== undefined);
  if (withTls.length > 0) {
    throw new D7yError('D7Y_CONFIG_INVALID', `${path} sets ${prefix}.configs."${withTls[0]}".tls, which containerd refuses together with config_path`, {
      fix: `move the TLS settings into ${withTls[0]}'s hosts.toml (ca, client, skip_verify) and delete them from ${path}, then run ${RERUN} again`,
    });
  }
}

/** Sets the CRI plugin's `registry.config_path` in config.toml to `certsDir` (an unset one only). */
function configTomlChange(path: string, before: string | null, certsDir: string): string {
  return editToml(path, before, RERUN, (doc) => {
    if (Object.keys(doc).length === 0) doc.version = 2;
    const version = configVersion(doc, path);
    const plugin = criPluginId(version, path);
    const registry = tableAt(doc, ['plugins', plugin, 'registry'], conflict(path));
    refuseDeprecatedRegistryConfig(registry, `plugins."${plugin}".registry`, path);
    if (!registry.config_path) registry.config_path = certsDir;
  });
}

/** The first folder of an existing `config_path` (it may list several, separated by `:`), or undefined. */
function existingCertsDir(path: string, before: string | null): string | undefined {
  if (before === null) return undefined;
  const doc = parseTomlFile(path, before, RERUN);
  const plugins = isTable(doc.plugins) ? doc.plugins : {};
  const plugin = plugins[criPluginId(configVersion(doc, path), path)];
  const registry = isTable(plugin) && isTable(plugin.registry) ? plugin.registry : {};
  const configPath = registry.config_path;
  return typeof configPath === 'string' && configPath !== '' ? configPath.split(':')[0] : undefined;
}

/**
 * Puts the mirror host first in a hosts.toml (capabilities `pull` and `resolve`), keeping every other
 * host and setting already there. Given a `server`, sets it when the file has none, and the mirror
 * host carries the `X-Dragonfly-Registry` header naming the file's server.
 */
function hostsTomlChange(path: string, before: string | null, proxy: ProxyAddress, server?: string): string {
  return editToml(path, before, RERUN, (doc) => {
    if (server !== undefined && doc.server === undefined) doc.server = server;
    const hosts: Table = doc.host === undefined ? {} : isTable(doc.host) ? doc.host : conflict(path)('host');
    const mine = isTable(hosts[proxy.url]) ? hosts[proxy.url] as Table : {};
    mine.capabilities = CAPABILITIES;
    if (server !== undefined) {
      const header = isTable(mine.header) ? mine.header : {};
      header[REGISTRY_HEADER] = String(doc.server);
      mine.header = header;
    }
    // Hosts are tried in the order listed: the mirror goes first, the others keep their order.
    const ordered: Table = hosts[proxy.url] === undefined ? { [proxy.url]: mine } : {};
    for (const [k, v] of Object.entries(hosts)) ordered[k] = k === proxy.url ? mine : v;
    delete doc.host;
    doc.host = ordered;
  }, ownHeader(before, HOSTS_HEADER));
}

/**
 * containerd: `<certs.d>/_default/hosts.toml` sends every registry's pulls to the mirror first (the
 * mirror reads the registry from containerd's `?ns=`), then to the registry itself; each
 * `--registry` also gets `<certs.d>/<registry>/hosts.toml` with its `server` and the mirror carrying
 * the `X-Dragonfly-Registry` header; config.toml's CRI registry `config_path` points at certs.d.
 */
export async function planContainerd(opts: ContainerdInitOptions): Promise<RuntimePlan> {
  const configBefore = await readExisting(opts.configFile);
  const current = existingCertsDir(opts.configFile, configBefore);
  if (current !== undefined && opts.certsDir !== undefined && resolve(current) !== resolve(opts.certsDir)) {
    throw new D7yError('D7Y_CONFLICT', `${opts.configFile} already reads hosts.toml files from ${current}, not ${opts.certsDir}`, {
      fix: `run ${RERUN} --config-dir ${current} (or change config_path in ${opts.configFile} yourself)`,
    });
  }
  const certsDir = opts.certsDir ?? current ?? DEFAULT_CONTAINERD_CERTS_DIR;
  const changes: FileChange[] = [];
  const defaultHosts = join(certsDir, '_default', 'hosts.toml');
  const defaultBefore = await readExisting(defaultHosts);
  changes.push({ path: defaultHosts, before: defaultBefore, after: hostsTomlChange(defaultHosts, defaultBefore, opts.proxy) });
  for (const reg of opts.registries) {
    const path = join(certsDir, reg.name, 'hosts.toml');
    const before = await readExisting(path);
    changes.push({ path, before, after: hostsTomlChange(path, before, opts.proxy, reg.server) });
  }
  changes.push({ path: opts.configFile, before: configBefore, after: configTomlChange(opts.configFile, configBefore, certsDir) });
  const notes = [
    `every registry is pulled through the mirror at ${opts.proxy.url} (it learns the registry from the ?ns= query containerd adds), falling back to the registry itself`,
    `ctr reads these files only when given --hosts-dir ${certsDir}; the CRI plugin (kubelet, crictl) and nerdctl read them by themselves`,
  ];
  return {
    runtime: 'containerd',
    changes,
    notes,
    restart: (changed) => (changed.has(opts.configFile)
      ? 'systemctl restart containerd   (config.toml changed; hosts.toml files are read on every pull)'
      : undefined),
  };
}
