import { D7yError } from '../core/errors/d7y-error.js';
import { formatDuration, parseDuration } from '../core/config/units.js';

/**
 * The milliseconds of a duration flag (`30s`, `10m`, `1h30m`): a bare number, 0 and anything outside
 * [min, max] are D7Y_INVALID_ARGUMENT naming the flag, with the accepted units and an example.
 */
export function parseDurationFlag(text: string, flag: string, bounds: { min?: number; max?: number } = {}): number {
  const ms = parseDuration(text, { label: flag });
  const min = bounds.min ?? 1;
  if (ms < min || (bounds.max !== undefined && ms > bounds.max)) {
    const range = bounds.max === undefined ? `at least ${formatDuration(min)}` : `from ${formatDuration(min)} to ${formatDuration(bounds.max)}`;
    throw new D7yError('D7Y_INVALID_ARGUMENT', `${flag} ${text} is out of range: it must be ${range}`, {
      fix: `give a duration ${range}, e.g. ${flag} 30s or ${flag} 10m`,
    });
  }
  return ms;
}
