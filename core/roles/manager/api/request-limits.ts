import { D7yError } from '../../../errors/d7y-error.js';

const OPEN = new Set([0x5b, 0x7b]);
const CLOSE = new Set([0x5d, 0x7d]);

/**
 * True when the JSON text in `buf` nests arrays and objects deeper than `max` (brackets inside
 * strings do not count). One pass over the bytes, before anything is parsed, so a body of a
 * million `[` costs a scan, not a stack.
 */
export function jsonDeeperThan(buf: Buffer, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]!;
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (OPEN.has(c)) {
      if (++depth > max) return true;
    } else if (CLOSE.has(c)) {
      depth--;
    }
  }
  return false;
}

/** The `type` body-parser errors carry for a body refused by jsonDeeperThan. */
export const TOO_DEEP = 'entity.too.deep';

/**
 * The D7yError and status for an error that express or body-parser raised about the request itself
 * (bad JSON, a body too large or too deep, undecodable percent-encoding in the path): a 4xx the
 * caller can fix, never a 500. Undefined for any other error.
 */
export function requestErrorOf(err: unknown, limits: { maxBodySize: number; maxJsonDepth: number }): { error: D7yError; status: number } | undefined {
  const e = err as { type?: string; status?: number; statusCode?: number; message?: string };
  const invalid = (message: string, fix: string, status = 400) => ({ error: new D7yError('D7Y_INVALID_ARGUMENT', message, { fix }), status });
  switch (e.type) {
    case 'entity.parse.failed':
      return invalid('request body is not valid JSON', 'send a JSON body with Content-Type: application/json');
    case 'entity.too.large':
      return invalid(`request body is larger than ${limits.maxBodySize} bytes`, 'send a smaller body (manager.listen.maxBodySize)', 413);
    case TOO_DEEP:
      return invalid(`request body nests arrays and objects deeper than ${limits.maxJsonDepth} levels`, 'send a flatter body (manager.listen.maxJsonDepth)');
    default:
      break;
  }
  if (err instanceof URIError) return invalid(`the request path is not valid percent-encoding: ${err.message}`, 'percent-encode the path as UTF-8 (encodeURIComponent)');
  const status = e.status ?? e.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return invalid(`bad request: ${e.message ?? 'refused by the HTTP layer'}`, 'check the request against /openapi.json', status);
  }
  return undefined;
}
