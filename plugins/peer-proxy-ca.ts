import type { NodeConfig } from '../core/config/node-config.js';
import type { Logger } from '../core/logging/logger.js';

/** The proxy CA of a node's peer, as `d7y proxy ca` shows it. */
export interface PeerProxyCaInfo {
  certificatePem: string;
  certFile: string;
  keyFile: string;
  /** True when this call made the CA (the peer had none yet). */
  generated: boolean;
}

/**
 * The HTTPS proxy CA of the node's peer: the user's CA when `certFile`/`keyFile` are given, else
 * the one in the peer's data dir (made there on first use, as the peer itself would).
 */
export async function loadPeerProxyCa(config: NodeConfig, logger: Logger, files: { certFile?: string; keyFile?: string } = {}): Promise<PeerProxyCaInfo> {
  const { peerDataDir } = await import('../core/config/paths.js');
  const { ProxyCa } = await import('../core/roles/peer/proxy/proxy-ca.js');
  const ca = await ProxyCa.load({ dir: peerDataDir(config.dataDir, config.peer), ...files, logger });
  return { certificatePem: ca.certificatePem, certFile: ca.certFile, keyFile: ca.keyFile, generated: ca.generated };
}
