import { z } from 'zod';
import { parseByteSize } from '../../core/index.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `24h`, `90s`, `1h30m`, `500ms` or a number of milliseconds; undefined when it is not a duration. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  if (!/^(\d+(?:\.\d+)?(ms|s|m|h|d))+$/.test(trimmed)) return undefined;
  let total = 0;
  for (const m of trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) total += Number(m[1]) * UNIT_MS[m[2]];
  return Math.round(total);
}

/** A size in bytes: a number, or a string such as "4GiB" or "512MiB". */
export const byteSizeSchema = z.union([z.number().int().nonnegative(), z.string()]).transform((value, ctx) => {
  if (typeof value === 'number') return value;
  try {
    return parseByteSize(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a size; write e.g. 536870912, 512MiB or 4GiB` });
    return z.NEVER;
  }
});

/** A duration in milliseconds: a number, or a string such as "24h", "90s" or "1h30m". */
export const durationSchema = z.union([z.number().int().nonnegative(), z.string()]).transform((value, ctx) => {
  if (typeof value === 'number') return value;
  const ms = parseDuration(value);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration; write e.g. 60000, 90s, 6h or 1h30m` });
    return z.NEVER;
  }
  return ms;
});
