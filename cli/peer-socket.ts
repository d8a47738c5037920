import { defaultDataDir, peerSocketPath } from '../core/config/paths.js';

/** The local API socket of the normal peer under the default data dir. */
export function defaultPeerSocket(): string {
  return peerSocketPath(defaultDataDir(), { seed: false });
}
