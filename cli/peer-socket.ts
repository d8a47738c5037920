import { defaultDataDir } from '../core/config/node-config.js';
import { peerSocketPath, PeerConfigSchema } from '../core/config/peer-config.js';

/** The local API socket of the normal peer under the default data dir. */
export function defaultPeerSocket(): string {
  return peerSocketPath(defaultDataDir(), PeerConfigSchema.parse({}));
}
