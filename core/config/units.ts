import { D7yError } from '../errors/d7y-error.js';

/**
 * The one grammar for durations, sizes and rates, on the command line, in config files, plugin
 * config and `D7Y_*` variables. Internally a duration is milliseconds, a size bytes, a rate bytes/s.
 *
 * - Duration: one or more `<number><unit>` with units `d`, `h`, `m` (minutes), `s`, `ms`, largest
 *   first, each at most once (`500ms`, `30s`, `10m`, `1h30m`, `1.5h`, `7d`). A bare number other
 *   than `0` is refused: `10` could mean seconds or milliseconds.
 * - Size: `<number><unit>` with SI units `B`, `kB` (or `KB`), `MB`, `GB`, `TB` (powers of 1000, so
 *   `1MB` is 1,000,000 bytes) or IEC units `KiB`, `MiB`, `GiB`, `TiB` (powers of 1024). A bare whole
 *   number is bytes. A lower-case `b` is refused: it means bits.
 * - Rate: a size per second (`100MiB/s`, `100MB/s`) or bits per second in SI units (`50Mbit/s`,
 *   `1Gbit/s`, also written `50Mbps`). A bare number other than `0` is refused (bytes or bits?);
 *   `0` is no traffic, or no limit where a setting says so (it may then also be written `unlimited`).
 *
 * Results are whole numbers (a value that is not a whole number of ms, bytes or bytes/s is refused)
 * and at most Number.MAX_SAFE_INTEGER. One space may stand between a number and its unit.
 */
export type UnitKind = 'duration' | 'size' | 'rate';

export const DURATION_UNITS: Readonly<Record<string, number>> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
export const SIZE_UNITS: Readonly<Record<string, number>> = {
  B: 1, kB: 1e3, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40,
};
const BIT_UNITS: Readonly<Record<string, number>> = { bit: 1, kbit: 1e3, Kbit: 1e3, Mbit: 1e6, Gbit: 1e9, Tbit: 1e12 };
const BPS_UNITS: Readonly<Record<string, string>> = { bps: 'bit', kbps: 'kbit', Kbps: 'kbit', Mbps: 'Mbit', Gbps: 'Gbit', Tbps: 'Tbit' };

/** What each kind accepts, for fixes and docs. */
export const UNIT_HELP: Readonly<Record<UnitKind, { units: string; examples: [string, string] }>> = {
  duration: { units: 'ms, s, m (minutes), h, d', examples: ['30s', '1h30m'] },
  size: { units: 'B, kB, MB, GB, TB (1000) or KiB, MiB, GiB, TiB (1024); a bare number is bytes', examples: ['4MiB', '1GB'] },
  rate: { units: 'B/s, kB/s, MB/s, GB/s, KiB/s, MiB/s, GiB/s or kbit/s, Mbit/s, Gbit/s', examples: ['100MiB/s', '50Mbit/s'] },
};

export interface ParseUnitOptions {
  /** Names the value in errors: a flag (`--timeout`) or a config path. */
  label?: string;
  /** Rates only: `unlimited` is accepted and means 0. */
  unlimited?: boolean;
}

const NUMBER = String.raw`(\d+)(?:\.(\d+))?`;

function unitError(kind: UnitKind, text: string, reason: string | undefined, o: ParseUnitOptions): D7yError {
  const { units, examples } = UNIT_HELP[kind];
  const at = o.label ? `${o.label} ` : '';
  const flag = o.label?.startsWith('-') ? o.label : undefined;
  const ex = flag ? `${flag} ${examples[0]} or ${flag} ${examples[1]}` : `"${examples[0]}" or "${examples[1]}"`;
  return new D7yError('D7Y_INVALID_ARGUMENT', `${at}"${text}" is not a ${kind}${reason ? `: ${reason}` : ''}`, {
    fix: `write a ${kind} with a unit (${units}${kind === 'rate' && o.unlimited ? '; 0 or unlimited for no limit' : ''}), e.g. ${ex}`,
    details: { kind, value: text, reason },
  });
}

/** `int.frac × unit` exactly, or undefined when it is not a whole number. */
function scaled(int: string, frac: string | undefined, unit: number): number | undefined {
  const digits = frac ?? '';
  const num = BigInt(int + digits) * BigInt(unit);
  const den = 10n ** BigInt(digits.length);
  return num % den === 0n ? Number(num / den) : undefined;
}

function checkSafe(value: number, kind: UnitKind, text: string, o: ParseUnitOptions): number {
  if (!Number.isSafeInteger(value)) throw unitError(kind, text, 'it is too large', o);
  return value;
}

function isBareNumber(s: string): boolean {
  return new RegExp(`^${NUMBER}$`).test(s);
}

/** Milliseconds of `30s`, `10m`, `1h30m`, `500ms`, `7d` or `0`; D7Y_INVALID_ARGUMENT otherwise. */
export function parseDuration(text: string, o: ParseUnitOptions = {}): number {
  const s = text.trim();
  if (s === '') throw unitError('duration', text, 'it is empty', o);
  if (/^0+(\.0+)?$/.test(s)) return 0;
  if (isBareNumber(s)) throw unitError('duration', text, 'it has no unit, so it could be seconds or milliseconds', o);
  const token = new RegExp(`\\s*${NUMBER} ?([a-zA-Zµ]+)\\s*`, 'y');
  let total = 0;
  let last = Infinity;
  let m: RegExpExecArray | null;
  while (token.lastIndex < s.length && (m = token.exec(s))) {
    const unit = DURATION_UNITS[m[3]];
    if (unit === undefined) {
      const hint = m[3] === 'M' || m[3].startsWith('min') ? ' (minutes are m)' : m[3] === 'us' || m[3] === 'µs' ? ' (the smallest unit is ms)' : '';
      throw unitError('duration', text, `unknown unit "${m[3]}"${hint}`, o);
    }
    if (unit >= last) throw unitError('duration', text, 'its units must go from largest to smallest, each once', o);
    last = unit;
    const value = scaled(m[1], m[2], unit);
    if (value === undefined) throw unitError('duration', text, 'it is not a whole number of milliseconds', o);
    total += value;
  }
  if (token.lastIndex !== s.length || last === Infinity) throw unitError('duration', text, undefined, o);
  return checkSafe(total, 'duration', text, o);
}

function sizeUnitHint(unit: string): string {
  if (/^[kmgt]$/i.test(unit)) return ` (write ${unit.toUpperCase()}iB for powers of 1024 or ${unit.toUpperCase()}B for powers of 1000)`;
  const fixed = Object.keys(SIZE_UNITS).find((u) => u.toLowerCase() === unit.toLowerCase());
  if (unit.endsWith('b') && !unit.endsWith('ib')) return ` (a lower-case b means bits; bytes are ${fixed ?? 'B'})`;
  return fixed ? ` (write ${fixed})` : '';
}

/** Bytes of `4MiB`, `512KiB`, `16MB`, `1GiB` or a bare whole number of bytes; D7Y_INVALID_ARGUMENT otherwise. */
export function parseSize(text: string, o: ParseUnitOptions = {}): number {
  const s = text.trim();
  const m = new RegExp(`^${NUMBER} ?([a-zA-Z]*)$`).exec(s);
  if (!m) throw unitError('size', text, s === '' ? 'it is empty' : undefined, o);
  const unit = m[3] === '' ? 1 : SIZE_UNITS[m[3]];
  if (unit === undefined) throw unitError('size', text, `unknown unit "${m[3]}"${sizeUnitHint(m[3])}`, o);
  const value = scaled(m[1], m[2], unit);
  if (value === undefined) throw unitError('size', text, 'it is not a whole number of bytes', o);
  return checkSafe(value, 'size', text, o);
}

/** Bytes per second of `100MiB/s`, `50Mbit/s`, `1Gbps` or `0` (`unlimited` too with `o.unlimited`). */
export function parseRate(text: string, o: ParseUnitOptions = {}): number {
  const s = text.trim();
  if (/^0+(\.0+)?$/.test(s) || (o.unlimited && s === 'unlimited')) return 0;
  if (isBareNumber(s)) throw unitError('rate', text, 'it has no unit, so it could be bytes or bits per second', o);
  const m = new RegExp(`^${NUMBER} ?([a-zA-Z]+)(/s)?$`).exec(s);
  if (!m) throw unitError('rate', text, s === '' ? 'it is empty' : undefined, o);
  const unit = BPS_UNITS[m[3]] ?? m[3];
  const perSecond = m[4] !== undefined || m[3] in BPS_UNITS;
  const bitUnit = BIT_UNITS[unit];
  const sizeUnit = SIZE_UNITS[unit];
  if (bitUnit === undefined && sizeUnit === undefined) {
    const hint = /^[kKMGT]?b$/.test(m[3]) ? ` (write ${m[3].slice(0, -1)}bit/s for bits or ${m[3].slice(0, -1)}B/s for bytes)` : sizeUnitHint(m[3]);
    throw unitError('rate', text, `unknown unit "${m[3]}${m[4] ?? ''}"${hint}`, o);
  }
  if (!perSecond) throw unitError('rate', text, `it is ${sizeUnit ? 'a size' : 'an amount of bits'}; add /s`, o);
  const value = bitUnit === undefined ? scaled(m[1], m[2], sizeUnit) : scaled(m[1], m[2], bitUnit);
  if (value === undefined || (bitUnit !== undefined && value % 8 !== 0)) throw unitError('rate', text, 'it is not a whole number of bytes per second', o);
  return checkSafe(bitUnit === undefined ? value : value / 8, 'rate', text, o);
}

/** Parses a value of the given kind. */
export function parseUnit(kind: UnitKind, text: string, o: ParseUnitOptions = {}): number {
  return kind === 'duration' ? parseDuration(text, o) : kind === 'size' ? parseSize(text, o) : parseRate(text, o);
}

/** `1h30m`, `500ms`, `0s`: exact, the largest units first; parseDuration gives the same number back. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const [unit, size] of Object.entries(DURATION_UNITS)) {
    const n = Math.floor(rest / size);
    if (n > 0) { out += `${n}${unit}`; rest -= n * size; }
  }
  return out;
}

const shortest = (options: string[]): string => options.reduce((a, b) => (b.length < a.length ? b : a));

function exactSizes(bytes: number): string[] {
  return ['TiB', 'GiB', 'MiB', 'KiB', 'TB', 'GB', 'MB', 'kB']
    .filter((u) => bytes % SIZE_UNITS[u] === 0)
    .map((u) => `${bytes / SIZE_UNITS[u]}${u}`);
}

/** `4MiB`, `1GB`, `1500B`: the shortest exact spelling; parseSize gives the same number back. */
export function formatSize(bytes: number): string {
  return bytes === 0 ? '0B' : shortest([...exactSizes(bytes), `${bytes}B`]);
}

/** `100MiB/s`, `1Gbit/s`, `0` (or `unlimited`): the shortest exact spelling; parseRate gives the same number back. */
export function formatRate(bytesPerSecond: number, o: { unlimited?: boolean } = {}): string {
  if (bytesPerSecond === 0) return o.unlimited ? 'unlimited' : '0';
  const bits = bytesPerSecond * 8;
  const inBits = ['Tbit', 'Gbit', 'Mbit', 'kbit'].filter((u) => Number.isSafeInteger(bits) && bits % BIT_UNITS[u] === 0).map((u) => `${bits / BIT_UNITS[u]}${u}/s`);
  const [iec, si] = [exactSizes(bytesPerSecond).filter((x) => x.includes('i')), exactSizes(bytesPerSecond).filter((x) => !x.includes('i'))];
  return shortest([...iec.map((x) => `${x}/s`), ...inBits, ...si.map((x) => `${x}/s`), `${bytesPerSecond}B/s`]);
}

/** Formats a value of the given kind. */
export function formatUnit(kind: UnitKind, value: number, o: { unlimited?: boolean } = {}): string {
  return kind === 'duration' ? formatDuration(value) : kind === 'size' ? formatSize(value) : formatRate(value, o);
}
