import { Metadata, status as GrpcStatus } from '@grpc/grpc-js';
import type { ServiceError, StatusObject } from '@grpc/grpc-js';
import { D7yError, toD7yError } from '../../errors/d7y-error.js';
import type { D7yErrorCode } from '../../errors/d7y-error.js';
import { codeOfGrpcStatus, grpcStatusOf } from '../../errors/error-status.js';
import { activeNodeTls } from '../tls/node-tls.js';
import { clientSideFailure } from '../tls/tls-failures.js';

/** Metadata key carrying a D7yError's code across gRPC, so the caller gets the same code back. */
export const D7Y_CODE_METADATA_KEY = 'd7y-code';
/** Metadata key carrying a D7yError's `fix`. */
export const D7Y_FIX_METADATA_KEY = 'd7y-fix';

/** A gRPC status for `err` (a D7yError keeps its code and fix in the trailers), for service handlers. */
export function toServiceError(err: unknown): Partial<StatusObject> {
  const e = toD7yError(err);
  const metadata = new Metadata();
  metadata.set(D7Y_CODE_METADATA_KEY, e.code);
  if (e.fix) metadata.set(D7Y_FIX_METADATA_KEY, e.fix);
  return { code: grpcStatusOf(e), details: e.message, metadata };
}

function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && typeof (err as ServiceError).code === 'number';
}

/**
 * A D7yError for an error of a gRPC call to `what` (e.g. `scheduler 127.0.0.1:8002`). The remote
 * D7yError code is kept when the server sent one; an unreachable server is `unavailable`.
 */
export function fromServiceError(err: unknown, what: string, unavailable: D7yErrorCode): D7yError {
  if (err instanceof D7yError) return err;
  if (!isServiceError(err)) return toD7yError(err, 'D7Y_INTERNAL', what);
  const sent = err.metadata?.get(D7Y_CODE_METADATA_KEY)[0];
  const fix = err.metadata?.get(D7Y_FIX_METADATA_KEY)[0];
  let code: D7yErrorCode = codeOfGrpcStatus(err.code);
  if (err.code === GrpcStatus.UNAVAILABLE) code = unavailable;
  if (err.code === GrpcStatus.DEADLINE_EXCEEDED) code = 'D7Y_TIMEOUT';
  if (err.code === GrpcStatus.CANCELLED) code = 'D7Y_ABORTED';
  if (typeof sent === 'string' && /^D7Y_[A-Z_]+$/.test(sent)) code = sent as D7yErrorCode;
  const details = err.details || err.message;
  if (err.code === GrpcStatus.UNAVAILABLE) {
    const tls = clientSideFailure(new Error(details), what, activeNodeTls());
    if (tls) return tls;
  }
  return new D7yError(code, `${what}: ${details}`, {
    cause: err,
    fix: typeof fix === 'string' ? fix
      : code === unavailable ? `check that ${what} is running and reachable` : undefined,
    details: { grpcStatus: err.code },
  });
}
