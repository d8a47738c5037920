import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

/** The data dir when none is configured: `$D7Y_DATA_DIR`, else `~/.d7y`. */
export function defaultDataDir(): string {
  return process.env.D7Y_DATA_DIR ?? join(homedir(), '.d7y');
}

/** The parts of a peer's config its paths depend on. */
export interface PeerPathConfig {
  seed?: boolean;
  dataDir?: string;
  socket?: string;
}

/** The peer's folder: its `dataDir` (relative to the node's), else `peer` (`seed-peer` for seeds). */
export function peerDataDir(nodeDataDir: string, peer: PeerPathConfig): string {
  const sub = peer.dataDir ?? (peer.seed ? 'seed-peer' : 'peer');
  return isAbsolute(sub) ? sub : join(nodeDataDir, sub);
}

/** The unix socket path of the peer's local API. */
export function peerSocketPath(nodeDataDir: string, peer: PeerPathConfig): string {
  return peer.socket ?? join(peerDataDir(nodeDataDir, peer), 'peer.sock');
}

/**
 * The credential `d7y up` issues for its own scheduler and peers: `<dataDir>/node-credential.json`,
 * mode 0600 (format: see ensureNodeCredential).
 */
export function nodeCredentialPath(nodeDataDir: string): string {
  return join(nodeDataDir, 'node-credential.json');
}
