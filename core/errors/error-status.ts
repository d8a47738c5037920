import type { D7yErrorCode } from './d7y-error.js';
import { D7yError } from './d7y-error.js';

/** The one place D7yError codes map to HTTP and gRPC status codes. */
const table: Record<D7yErrorCode, { http: number; grpc: number }> = {
  D7Y_INVALID_ARGUMENT: { http: 400, grpc: 3 },
  D7Y_CONFIG_INVALID: { http: 400, grpc: 3 },
  D7Y_CONFIG_NOT_FOUND: { http: 404, grpc: 5 },
  D7Y_PLUGIN_INVALID: { http: 400, grpc: 3 },
  D7Y_PLUGIN_NOT_FOUND: { http: 404, grpc: 5 },
  D7Y_PLUGIN_LOAD_FAILED: { http: 500, grpc: 13 },
  D7Y_PLUGIN_INSTALL_FAILED: { http: 500, grpc: 13 },
  D7Y_DUPLICATE_REGISTRATION: { http: 409, grpc: 6 },
  D7Y_MISSING_DEPENDENCY: { http: 500, grpc: 9 },
  D7Y_SOURCE_UNSUPPORTED_SCHEME: { http: 400, grpc: 3 },
  D7Y_SOURCE_NOT_FOUND: { http: 404, grpc: 5 },
  D7Y_SOURCE_AUTH: { http: 403, grpc: 7 },
  D7Y_SOURCE_RANGE_UNSUPPORTED: { http: 416, grpc: 11 },
  D7Y_SOURCE_UNAVAILABLE: { http: 502, grpc: 14 },
  D7Y_SOURCE_ERROR: { http: 502, grpc: 13 },
  D7Y_DIGEST_MISMATCH: { http: 422, grpc: 10 },
  D7Y_PIECE_NOT_FOUND: { http: 404, grpc: 5 },
  D7Y_TASK_NOT_FOUND: { http: 404, grpc: 5 },
  D7Y_STORAGE_FULL: { http: 507, grpc: 8 },
  D7Y_STORAGE_ERROR: { http: 500, grpc: 13 },
  D7Y_PROTOCOL_ERROR: { http: 400, grpc: 3 },
  D7Y_SCHEDULER_UNAVAILABLE: { http: 503, grpc: 14 },
  D7Y_PEER_UNAVAILABLE: { http: 503, grpc: 14 },
  D7Y_TIMEOUT: { http: 504, grpc: 4 },
  D7Y_ABORTED: { http: 499, grpc: 1 },
  D7Y_UNAUTHENTICATED: { http: 401, grpc: 16 },
  D7Y_PERMISSION_DENIED: { http: 403, grpc: 7 },
  D7Y_NOT_FOUND: { http: 404, grpc: 5 },
  D7Y_CONFLICT: { http: 409, grpc: 6 },
  D7Y_RATE_LIMITED: { http: 429, grpc: 8 },
  D7Y_INTERNAL: { http: 500, grpc: 13 },
};

export function httpStatusOf(err: unknown): number {
  return err instanceof D7yError ? table[err.code].http : 500;
}

export function grpcStatusOf(err: unknown): number {
  return err instanceof D7yError ? table[err.code].grpc : 13;
}

/** The D7yError code for a gRPC status received from a peer service, for errors crossing back. */
export function codeOfGrpcStatus(status: number): D7yErrorCode {
  const hit = (Object.entries(table) as [D7yErrorCode, { grpc: number }][]).find(([, v]) => v.grpc === status);
  return hit ? hit[0] : 'D7Y_INTERNAL';
}
