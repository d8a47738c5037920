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
 * The HTTPS proxy CA of the node's peer: the user's CA when `peer.proxy.hijackHttps.caCert`/`caKey` are set, else
 * the one in the peer's data dir (made there on first use, as the peer itself would).
 */
export async function loadPeerProxyCa(config: NodeConfig, logger: Logger): Promise<PeerProxyCaInfo> {
  const { peerDataDir } = await import('../core/config/paths.js');
  const { ProxyCa } = await import('../core/roles/peer/proxy/proxy-ca.js');
  const { caCert, caKey } = config.peer.proxy.hijackHttps;
  const ca = await ProxyCa.load({ dir: peerDataDir(config.dataDir, config.peer), certFile: caCert, keyFile: caKey, logger });
  return { certificatePem: ca.certificatePem, certFile: ca.certFile, keyFile: ca.keyFile, generated: ca.generated };
}
