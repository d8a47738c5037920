import { D7yError, type D7yErrorCode } from '../../core/index.js';

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_SOCKET']);

/** What went wrong where: the `hdfs://` URL (never the WebHDFS URL, which may carry a token) and the operation. */
export interface WebHdfsErrorContext {
  url: string;
  path: string;
  operation: string;
  secrets: readonly string[];
}

/** A WebHDFS error answer: the HTTP status and the RemoteException's exception name and message. */
export class WebHdfsRemoteError extends Error {
  constructor(readonly status: number, readonly exception: string, message: string) {
    super(message);
    this.name = 'WebHdfsRemoteError';
  }
}

/** Maps a WebHDFS or transport error to a D7yError naming `hdfs://namenode/path` and the Java exception. */
export function toWebHdfsError(err: unknown, ctx: WebHdfsErrorContext, signal?: AbortSignal): D7yError {
  if (err instanceof D7yError) return err;
  if (signal?.aborted || (err as { name?: string })?.name === 'AbortError') {
    return new D7yError('D7Y_ABORTED', `${ctx.operation} ${ctx.url} was aborted`, { cause: err });
  }
  const remote = err instanceof WebHdfsRemoteError ? err : undefined;
  const origin = remote?.exception ?? (err as { code?: string })?.code ?? 'IOException';
  const message = redact(err instanceof Error ? err.message : String(err), ctx.secrets);
  let code: D7yErrorCode = 'D7Y_SOURCE_ERROR';
  let fix = 'check the namenode address (its WebHDFS HTTP port) and the path, then retry';
  if (/FileNotFoundException/.test(origin)) {
    code = 'D7Y_SOURCE_NOT_FOUND';
    fix = 'check the path; HDFS paths are case-sensitive';
  } else if (/AccessControl|Security|InvalidToken|Authentication|Authorization/.test(origin) || remote?.status === 401) {
    code = 'D7Y_SOURCE_AUTH';
    fix = 'check the HDFS user or the delegation token (user and delegationToken of the hdfs plugin in plugins.json) and the path permissions';
  } else if (/Offset=|out of the range/.test(message)) {
    code = 'D7Y_SOURCE_RANGE_UNSUPPORTED';
    fix = 'the range lies outside the file; stat it again, it may have changed';
  } else if (NETWORK_CODES.has(origin) || (remote !== undefined && remote.status >= 500)) {
    code = 'D7Y_SOURCE_UNAVAILABLE';
    fix = 'check that the namenode and datanodes are reachable on their WebHDFS ports, then retry';
  }
  const status = remote ? ` (HTTP ${remote.status})` : '';
  return new D7yError(code, `${ctx.operation} ${ctx.url} failed: ${origin}${status}: ${message}`, {
    fix, cause: err, details: { scheme: 'hdfs', path: ctx.path, url: ctx.url, originCode: origin, status: remote?.status },
  });
}

export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('[redacted]');
  return out;
}
