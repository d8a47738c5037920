import { D7yError } from '../../core/errors/d7y-error.js';

/** The peer's HTTP proxy and registry mirror, as runtimes should reach it (`peer.proxy`'s default). */
export const DEFAULT_PEER_PROXY = '127.0.0.1:4001';

/** Where the mirror listens: `hostPort` for registries.conf and daemon.json hosts, `url` for hosts.toml. */
export interface ProxyAddress {
  /** `127.0.0.1:4001` */
  hostPort: string;
  /** `http://127.0.0.1:4001` */
  url: string;
}

/** A registry as `d7y init` writes it: containerd's host namespace and the server to fall back to. */
export interface RegistryAddress {
  /** The name images use (`docker.io`, `quay.io`, `myregistry:5000`): hosts.toml folder, registries.conf prefix. */
  name: string;
  /** `https://registry-1.docker.io` for docker.io, else `<scheme>://<name>` (https unless given as http://). */
  server: string;
}

const DOCKER_HUB_NAMES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);
/** Docker Hub's API host: containerd resolves docker.io there, and so must a hosts.toml `server`. */
export const DOCKER_HUB_SERVER = 'https://registry-1.docker.io';

function hostOf(input: string, what: string, example: string): URL {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(input) ? input : `http://${input}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch (err) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `${what} "${input}" is not a host[:port]`, { fix: `give it as ${example}`, cause: err });
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash || url.username || url.password) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `${what} "${input}" has a path, query or credentials; only host[:port] is allowed`, { fix: `give it as ${example}` });
  }
  return url;
}

/** Parses `--proxy` (`host:port` or `http://host:port`). The mirror speaks plain HTTP on loopback. */
export function parseProxyAddress(input: string): ProxyAddress {
  const url = hostOf(input, '--proxy', '127.0.0.1:4001');
  if (url.protocol !== 'http:') {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `--proxy "${input}" must be plain http: the peer's mirror does not serve TLS`, { fix: 'give it as host:port, e.g. 127.0.0.1:4001' });
  }
  if (!url.port) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `--proxy "${input}" has no port`, { fix: 'give it as host:port, e.g. 127.0.0.1:4001' });
  }
  return { hostPort: url.host, url: `http://${url.host}` };
}

/**
 * Parses `--registry` (`docker.io`, `quay.io`, `myregistry:5000`, or with `http://` for a plain-HTTP
 * registry). Docker Hub under any of its names becomes `docker.io` served by registry-1.docker.io.
 */
export function parseRegistry(input: string): RegistryAddress {
  const url = hostOf(input, '--registry', 'quay.io or myregistry.example.com:5000');
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `--registry "${input}" must be http:// or https://`, { fix: 'give it as host[:port]; https is assumed' });
  }
  if (DOCKER_HUB_NAMES.has(url.hostname) && !url.port) return { name: 'docker.io', server: DOCKER_HUB_SERVER };
  const explicitScheme = /^https?:\/\//i.test(input);
  return { name: url.host, server: `${explicitScheme ? url.protocol : 'https:'}//${url.host}` };
}

/** Parses every `--registry`, dropping repeats of the same name (the first wins). */
export function parseRegistries(inputs: readonly string[]): RegistryAddress[] {
  const seen = new Map<string, RegistryAddress>();
  for (const input of inputs) {
    const reg = parseRegistry(input);
    if (!seen.has(reg.name)) seen.set(reg.name, reg);
  }
  return [...seen.values()];
}
