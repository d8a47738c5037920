import { isDeepStrictEqual } from 'node:util';
import { join } from 'node:path';
import { D7yError } from '../../core/errors/d7y-error.js';
import type { ProxyAddress, RegistryAddress } from './addresses.js';
import { corruptFileError, readExisting } from './config-file.js';
import { rerunCommand, type RuntimePlan } from './runtime-plan.js';

export const DEFAULT_DOCKER_DIR = '/etc/docker';
const RERUN = rerunCommand('docker');

export interface DockerInitOptions {
  /** The folder of daemon.json (/etc/docker). */
  configDir: string;
  proxy: ProxyAddress;
  /** Only docker.io can be mirrored by dockerd; anything else is refused. */
  registries: readonly RegistryAddress[];
}

function parseDaemonJson(path: string, text: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw corruptFileError(path, 'JSON', (err as Error).message, RERUN, err);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw corruptFileError(path, 'JSON', 'the top level is not an object', RERUN);
  return doc as Record<string, unknown>;
}

/**
 * Docker: the mirror goes first in daemon.json's `registry-mirrors`, every other key and mirror kept.
 * dockerd sends only Docker Hub pulls to registry mirrors; other registries are always pulled
 * directly, so `--registry` other than docker.io is refused.
 */
export async function planDocker(opts: DockerInitOptions): Promise<RuntimePlan> {
  const others = opts.registries.filter((r) => r.name !== 'docker.io');
  if (others.length > 0) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `docker sends only Docker Hub (docker.io) pulls to a registry mirror, not ${others.map((r) => r.name).join(', ')}`, {
      fix: 'drop --registry (docker.io is mirrored), or set up the runtime your cluster pulls with (d7y init containerd mirrors every registry)',
    });
  }
  const path = join(opts.configDir, 'daemon.json');
  const before = await readExisting(path);
  const doc = before === null ? {} : parseDaemonJson(path, before);
  const mirrors = doc['registry-mirrors'] ?? [];
  if (!Array.isArray(mirrors) || !mirrors.every((m) => typeof m === 'string')) {
    throw corruptFileError(path, 'daemon.json', '"registry-mirrors" is not a list of URLs', RERUN);
  }
  const mine = opts.proxy.url;
  const same = (m: string) => m.replace(/\/+$/, '') === mine;
  const next = { ...doc, 'registry-mirrors': [mine, ...mirrors.filter((m) => !same(m))] };
  const after = before !== null && isDeepStrictEqual(doc, next) ? before : `${JSON.stringify(next, null, 2)}\n`;
  return {
    runtime: 'docker',
    changes: [{ path, before, after }],
    notes: [
      `Docker Hub (docker.io) pulls go through the mirror at ${mine}; docker pulls every other registry directly (it mirrors Docker Hub only)`,
    ],
    restart: (changed) => (changed.size > 0 ? 'systemctl reload docker   (dockerd re-reads registry-mirrors on SIGHUP; or restart it)' : undefined),
  };
}
