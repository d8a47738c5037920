import { resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { D7yError, isD7yError } from '../core/errors/d7y-error.js';
import { LocalApiClient } from '../core/protocol/local-api/local-api-client.js';
import type { PeerApi } from '../core/protocol/local-api/peer-api.js';
import type { NodeConfig } from '../core/config/node-config.js';
import { defaultPeerSocket } from './peer-socket.js';
import { socketAnswers } from '../core/protocol/local-api/socket-answers.js';

/** How `d7y get` finds its peer. */
export interface PeerConnectionOptions {
  socket?: string;
  /** true: a daemon must answer; false: never use one; unset: a daemon if one listens, else a peer in this process. */
  daemon?: boolean;
  config?: string;
  dataDir?: string;
  pluginsFile?: string;
}

/** How long a daemonless `d7y get` waits for another one that uses the same peer folder. */
const LOCK_WAIT_MS = 10 * 60_000;

/**
 * The daemon listening on the socket, or (without one, or with `daemon: false`) a normal peer
 * started in this process on the same folder, announced in one line on stderr. Its schedulers
 * are the config's when a config was given (`-c`, `--data-dir`, `D7Y_PEER__SCHEDULERS`,
 * `D7Y_PEER__MANAGER__*`), else it goes to the origin. `purpose` words the announcement for other
 * work than a download (e.g. `listing tasks`).
 */
export async function connectPeer(opts: PeerConnectionOptions, purpose?: string): Promise<PeerApi> {
  const explicit = opts.config !== undefined || opts.dataDir !== undefined;
  let config: NodeConfig | undefined;
  let socket = opts.socket;
  if (socket === undefined) {
    if (explicit) {
      config = await loadConfig(opts);
      const { peerSocketPath } = await import('../core/config/paths.js');
      socket = peerSocketPath(config.dataDir, config.peer);
    } else socket = defaultPeerSocket();
  }
  socket = resolve(socket);
  if (opts.daemon === true || (opts.daemon === undefined && (await socketAnswers(socket)))) return new LocalApiClient(socket);
  config ??= await loadConfig(opts);
  const useSchedulers = explicit || Object.keys(process.env).some((k) => /^D7Y_PEER__(SCHEDULERS|MANAGER)/.test(k));
  const peer = await startEmbedded(config, opts, useSchedulers);
  const how = peer.schedulers.length ? `schedulers ${peer.schedulers.join(', ')}; ` : purpose ? '' : 'no scheduler, so from the origin; ';
  process.stderr.write(`d7y: ${opts.daemon === false ? '--no-daemon' : `no daemon on ${socket}`}: ${purpose ?? 'downloading'} with a peer in this process (${how}data in ${peer.dataDir})\n`);
  return peer.api;
}

async function loadConfig(opts: PeerConnectionOptions): Promise<NodeConfig> {
  const { loadRoleConfig } = await import('./role-options.js');
  return loadRoleConfig({ config: opts.config, dataDir: opts.dataDir, pluginsFile: opts.pluginsFile });
}

/** Starts the embedded peer; while another daemonless `d7y get` uses the folder, waits for it (bounded). */
async function startEmbedded(config: NodeConfig, opts: PeerConnectionOptions, useSchedulers: boolean) {
  const { quietGrpcLogs } = await import('./role-options.js');
  const { createLogger } = await import('../core/logging/logger.js');
  const { startEmbeddedPeer } = await import('../plugins/index.js');
  await quietGrpcLogs();
  const logger = createLogger({ level: process.env.D7Y_LOG_LEVEL ?? (process.env.D7Y_DEBUG ? 'debug' : 'warn'), format: config.log.format });
  const until = Date.now() + LOCK_WAIT_MS;
  let told = false;
  for (;;) {
    try {
      return await startEmbeddedPeer({ config, logger, pluginsFile: opts.pluginsFile, useSchedulers });
    } catch (err) {
      const busyWithGet = isD7yError(err, 'D7Y_CONFLICT') && /\(d7y get\b/.test(err.message);
      if (!busyWithGet || Date.now() > until) {
        if (busyWithGet) {
          throw new D7yError('D7Y_CONFLICT', `${(err as Error).message}, still after ${LOCK_WAIT_MS / 60_000} min`, {
            fix: 'start a daemon (`d7y peer` or `d7y up`) so that downloads share one peer, or give this one another --data-dir',
          });
        }
        throw err;
      }
      if (!told) process.stderr.write(`d7y: ${(err as Error).message}; waiting for it to end\n`);
      told = true;
      await delay(250);
    }
  }
}
