/**
 * The HTTP trailer of the local API's byte stream that carries the daemon's error (JSON
 * `{ code, message, fix }`) when a download fails after its bytes began to flow.
 */
export const ERROR_TRAILER = 'x-d7y-error';
