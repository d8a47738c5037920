/**
 * Every error d7y raises on purpose is a D7yError: a stable `code` callers may switch on,
 * a message that says what went wrong, and a `fix` that says what the user should do.
 * `cause` keeps the underlying error for logs; it is never shown to a user by the CLI.
 */
export type D7yErrorCode =
  | 'D7Y_INVALID_ARGUMENT'
  | 'D7Y_CONFIG_INVALID'
  | 'D7Y_CONFIG_NOT_FOUND'
  | 'D7Y_PLUGIN_INVALID'
  | 'D7Y_PLUGIN_NOT_FOUND'
  | 'D7Y_PLUGIN_LOAD_FAILED'
  | 'D7Y_PLUGIN_INSTALL_FAILED'
  | 'D7Y_DUPLICATE_REGISTRATION'
  | 'D7Y_MISSING_DEPENDENCY'
  | 'D7Y_SOURCE_UNSUPPORTED_SCHEME'
  | 'D7Y_SOURCE_NOT_FOUND'
  | 'D7Y_SOURCE_AUTH'
  | 'D7Y_SOURCE_RANGE_UNSUPPORTED'
  | 'D7Y_SOURCE_UNAVAILABLE'
  | 'D7Y_SOURCE_ERROR'
  | 'D7Y_DIGEST_MISMATCH'
  | 'D7Y_PIECE_NOT_FOUND'
  | 'D7Y_TASK_NOT_FOUND'
  | 'D7Y_STORAGE_FULL'
  | 'D7Y_STORAGE_ERROR'
  | 'D7Y_PROTOCOL_ERROR'
  | 'D7Y_SCHEDULER_UNAVAILABLE'
  | 'D7Y_PEER_UNAVAILABLE'
  | 'D7Y_TIMEOUT'
  | 'D7Y_ABORTED'
  | 'D7Y_UNAUTHENTICATED'
  | 'D7Y_PERMISSION_DENIED'
  | 'D7Y_NOT_FOUND'
  | 'D7Y_CONFLICT'
  | 'D7Y_RATE_LIMITED'
  | 'D7Y_INTERNAL';

export interface D7yErrorOptions {
  /** What the user should do about it, in one sentence. */
  fix?: string;
  cause?: unknown;
  /** Structured context for logs and API bodies; never secrets. */
  details?: Record<string, unknown>;
}

export class D7yError extends Error {
  readonly code: D7yErrorCode;
  readonly fix?: string;
  readonly details?: Record<string, unknown>;

  constructor(code: D7yErrorCode, message: string, options: D7yErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'D7yError';
    this.code = code;
    this.fix = options.fix;
    this.details = options.details;
  }

  /** The message followed by the fix, as the CLI prints it. */
  describe(): string {
    return this.fix ? `${this.message}\n  fix: ${this.fix}` : this.message;
  }
}

export function isD7yError(err: unknown, code?: D7yErrorCode): err is D7yError {
  return err instanceof D7yError && (code === undefined || err.code === code);
}

/** Wraps anything thrown into a D7yError, keeping D7yErrors as they are. */
export function toD7yError(err: unknown, code: D7yErrorCode = 'D7Y_INTERNAL', context?: string): D7yError {
  if (err instanceof D7yError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new D7yError(code, context ? `${context}: ${msg}` : msg, { cause: err });
}
