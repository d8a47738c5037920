/**
 * The HTTP trailer of the local API's byte stream that carries the daemon's error (JSON
 * `{ code, message, fix }`) when a download fails after its bytes began to flow.
 */
export const ERROR_TRAILER = 'x-d7y-error';

/** The HTTP trailer of a byte stream that ended well: JSON `{ fromPeers, fromOrigin, fromCache }` bytes. */
export const TRAFFIC_TRAILER = 'x-d7y-traffic';
