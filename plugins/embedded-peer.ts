import type { Logger } from '../core/index.js';
import type { NodeConfig } from '../core/config/node-config.js';
import type { PeerApi } from '../core/protocol/local-api/peer-api.js';
import type { CacheApi } from '../core/protocol/local-api/cache-api.js';
import type { PeerRole } from '../core/roles/peer/peer-role.js';
import { NodeRunner } from './node-runner.js';

export interface EmbeddedPeerOptions {
  /** The node config; its `peer` section and `dataDir` are used. */
  config: NodeConfig;
  logger: Logger;
  /** plugins.json to load (default: the config's, else ./plugins.json, else the shipped one). */
  pluginsFile?: string;
  /** Join the swarm through `config.peer.schedulers` (or its manager); without, every download goes to the origin. */
  useSchedulers: boolean;
}

/** A started in-process peer. */
export interface EmbeddedPeer {
  api: PeerApi;
  /** Its persistent cache (import, export, stat, remove, list). */
  cache: CacheApi;
  /** The schedulers it uses (empty: straight to the origin). */
  schedulers: string[];
  dataDir: string;
}

/**
 * Starts a normal peer in this process, composed from plugins.json like a daemon's, with the
 * same folder (so a daemon started later serves what it downloaded), random ports for serving
 * its pieces while it runs, and no local API socket. `api.close()` stops it.
 */
export async function startEmbeddedPeer(opts: EmbeddedPeerOptions): Promise<EmbeddedPeer> {
  const peer = opts.config.peer;
  const config: NodeConfig = {
    ...opts.config,
    peer: {
      ...peer,
      seed: false,
      localApi: false,
      // Its own host id: leaving the schedulers when it stops must not remove a daemon of this host.
      host: { ...peer.host, hostname: `${peer.host.hostname}.embedded-${process.pid}` },
      upload: { ...peer.upload, port: 0 },
      rpc: { ...peer.rpc, port: 0 },
      pieceHttp: { ...peer.pieceHttp, port: 0 },
      proxy: { ...peer.proxy, enabled: false },
      // Its counters belong to the program that embeds it, which has no metrics listener of ours.
      metrics: { ...peer.metrics, enabled: false },
      schedulers: opts.useSchedulers ? peer.schedulers : [],
      manager: opts.useSchedulers ? peer.manager : undefined,
    },
  };
  const runner = new NodeRunner([{ role: 'peer', config, label: 'embedded-peer' }], opts.logger, opts.pluginsFile);
  await runner.start();
  const role = runner.roles[0]!.role as PeerRole;
  const facts = role.describe();
  return {
    api: role.api(() => runner.stop()),
    cache: role.cacheApi(),
    schedulers: (facts.schedulers as string[] | undefined) ?? [],
    dataDir: config.dataDir,
  };
}
