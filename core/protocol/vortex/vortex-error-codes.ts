import { D7yError, isD7yError } from '../../errors/d7y-error.js';
import { VortexErrorCode } from './vortex-tags.js';

/**
 * Start of the message of a not-found error frame from a peer that holds the piece but is sending
 * it to as many children as it takes at once (D7Y_RATE_LIMITED on both sides): ask another holder.
 */
export const BUSY_PREFIX = 'busy: ';

/**
 * Start of the message of the error frame a server with a cluster credential sends to a client
 * that did not prove it (D7Y_UNAUTHENTICATED on the client).
 */
export const UNAUTHENTICATED_PREFIX = 'unauthenticated: ';

/** The error-frame code a server sends for an error thrown while serving a request. */
export function vortexCodeOf(err: unknown): VortexErrorCode {
  if (isD7yError(err, 'D7Y_PIECE_NOT_FOUND') || isD7yError(err, 'D7Y_TASK_NOT_FOUND')) return VortexErrorCode.NotFound;
  if (isD7yError(err, 'D7Y_RATE_LIMITED') && err.message.startsWith(BUSY_PREFIX)) return VortexErrorCode.NotFound;
  return VortexErrorCode.Internal;
}

/** The D7yError a client raises for an error frame received from `address`. */
export function errorFromVortexFrame(
  code: VortexErrorCode,
  message: string,
  context: { address: string; taskId: string; number: number },
): D7yError {
  const what = `piece ${context.number} of task ${context.taskId} from ${context.address}`;
  const details = { ...context, vortexCode: code, remoteMessage: message };
  if (message.startsWith(UNAUTHENTICATED_PREFIX)) {
    return new D7yError('D7Y_UNAUTHENTICATED', `${what}: the peer refused this connection: ${message.slice(UNAUTHENTICATED_PREFIX.length)}`, {
      fix: 'set security.clusterSecret (or clusterSecretFile) on this node to the secret every node of the cluster shares', details,
    });
  }
  switch (code) {
    case VortexErrorCode.NotFound:
      if (message.startsWith(BUSY_PREFIX)) {
        return new D7yError('D7Y_RATE_LIMITED', `${what}: the peer is busy (${message.slice(BUSY_PREFIX.length)})`, {
          fix: 'fetch the piece from another holder, or from this one a little later', details,
        });
      }
      return new D7yError('D7Y_PIECE_NOT_FOUND', `${what}: not found (${message})`, {
        fix: 'download the piece from another parent or from the origin', details,
      });
    case VortexErrorCode.InvalidArgument:
      return new D7yError('D7Y_PROTOCOL_ERROR', `${what}: the peer refused the request as invalid (${message})`, {
        fix: 'check that both peers run compatible d7y versions', details,
      });
    default:
      return new D7yError('D7Y_PEER_UNAVAILABLE', `${what}: the peer failed to serve it (${message})`, {
        fix: 'download the piece from another parent; check the parent peer\'s logs', details,
      });
  }
}
