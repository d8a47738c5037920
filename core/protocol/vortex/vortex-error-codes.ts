import { D7yError, isD7yError } from '../../errors/d7y-error.js';
import { VortexErrorCode } from './vortex-tags.js';

/** The error-frame code a server sends for an error thrown while serving a request. */
export function vortexCodeOf(err: unknown): VortexErrorCode {
  if (isD7yError(err, 'D7Y_PIECE_NOT_FOUND') || isD7yError(err, 'D7Y_TASK_NOT_FOUND')) return VortexErrorCode.NotFound;
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
  switch (code) {
    case VortexErrorCode.NotFound:
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
