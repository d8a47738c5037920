import type { ServerResponse } from 'node:http';

/** Where a proxy failure came from, as Dragonfly's `X-Dragonfly-Error-Type` says it. */
export type ProxyErrorType = 'backend' | 'proxy' | 'dfdaemon';

/**
 * Answers with a short text error, unless the response has started (then the connection is
 * aborted: a client must never take a short body for a whole one).
 */
export function sendError(res: ServerResponse, status: number, message: string, type: ProxyErrorType, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `d7y proxy: ${message}\n`;
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), 'x-dragonfly-error-type': type, ...headers,
  });
  res.end(body);
}
