import type { ByteRange } from '../../contracts/source-client.js';
import { D7yError } from '../../errors/d7y-error.js';

/** Parses `a-b` (inclusive, like HTTP) or `a-` into a range; D7Y_INVALID_ARGUMENT otherwise. */
export function parseRangeArg(text: string): ByteRange {
  const m = /^\s*(\d+)-(\d*)\s*$/.exec(text);
  if (!m || (m[2] !== '' && Number(m[2]) < Number(m[1]))) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `"${text}" is not a byte range`, {
      fix: 'write --range <first byte>-<last byte>, both inclusive, e.g. --range 0-1048575',
    });
  }
  const start = Number(m[1]);
  return { start, length: m[2] === '' ? Number.MAX_SAFE_INTEGER - start : Number(m[2]) - start + 1 };
}
