import test from 'ava';
import fc from 'fast-check';
import { D7yError } from '../errors/d7y-error.js';
import { formatDuration, formatRate, formatSize, parseDuration, parseRate, parseSize } from './units.js';

const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;

const durations: [string, number][] = [
  ['0', 0], ['0s', 0], ['500ms', 500], ['30s', 30_000], ['10m', 600_000], ['1h', 3_600_000], ['7d', 7 * 86_400_000],
  ['1h30m', 5_400_000], ['1d2h3m4s5ms', 93_784_005], ['1.5h', 5_400_000], ['0.5s', 500], ['1h 30m', 5_400_000],
  ['30 s', 30_000], [' 10m ', 600_000],
];
const sizes: [string, number][] = [
  ['0', 0], ['4194304', 4 * MIB], ['512KiB', 512 * KIB], ['4MiB', 4 * MIB], ['1GiB', GIB], ['1TiB', 1024 * GIB],
  ['1MB', 1_000_000], ['16MB', 16_000_000], ['1kB', 1000], ['1KB', 1000], ['1GB', 1e9], ['100B', 100],
  ['1.5KiB', 1536], ['1.5MB', 1_500_000], ['4 MiB', 4 * MIB],
];
const rates: [string, number][] = [
  ['0', 0], ['100MiB/s', 100 * MIB], ['1Gbit/s', 125_000_000], ['50Mbit/s', 6_250_000], ['100MB/s', 100_000_000],
  ['1Gbps', 125_000_000], ['800kbit/s', 100_000], ['512KiB/s', 512 * KIB], ['1.5MiB/s', 1.5 * MIB],
];

test('good durations, sizes and rates parse to ms, bytes and bytes/s', (t) => {
  for (const [text, ms] of durations) t.is(parseDuration(text), ms, text);
  for (const [text, bytes] of sizes) t.is(parseSize(text), bytes, text);
  for (const [text, bps] of rates) t.is(parseRate(text), bps, text);
  t.is(parseRate('unlimited', { unlimited: true }), 0);
});

const bad: [kind: 'duration' | 'size' | 'rate', text: string, says: RegExp][] = [
  ['duration', '10', /is not a duration: it has no unit, so it could be seconds or milliseconds/],
  ['duration', '1500', /has no unit/],
  ['duration', '', /is not a duration: it is empty/],
  ['duration', '10M', /is not a duration: unknown unit "M" \(minutes are m\)/],
  ['duration', '10min', /unknown unit "min" \(minutes are m\)/],
  ['duration', '5us', /the smallest unit is ms/],
  ['duration', '30m1h', /is not a duration: its units must go from largest to smallest, each once/],
  ['duration', '1m1m', /largest to smallest, each once/],
  ['duration', '-5s', /^--x "-5s" is not a duration$/],
  ['duration', '0.5ms', /is not a duration: it is not a whole number of milliseconds/],
  ['duration', '1h30', /is not a duration/],
  ['duration', 'soon', /is not a duration/],
  ['duration', '99999999999999d', /it is too large/],
  ['size', '4mb', /is not a size: unknown unit "mb" \(a lower-case b means bits; bytes are MB\)/],
  ['size', '4Mb', /a lower-case b means bits/],
  ['size', '8m', /write MiB for powers of 1024 or MB for powers of 1000/],
  ['size', '4mib', /write MiB/],
  ['size', '1.5B', /not a whole number of bytes/],
  ['size', '-1', /is not a size/],
  ['size', '4 M iB', /is not a size/],
  ['rate', '100', /is not a rate: it has no unit, so it could be bytes or bits per second/],
  ['rate', '100MiB', /is not a rate: it is a size; add \/s/],
  ['rate', '50Mbit', /is not a rate: it is an amount of bits; add \/s/],
  ['rate', '100Mb/s', /write Mbit\/s for bits or MB\/s for bytes/],
  ['rate', '1bit/s', /not a whole number of bytes per second/],
  ['rate', 'unlimited', /is not a rate/],
  ['rate', 'fast', /is not a rate/],
];

test('bad values are a D7yError saying what is wrong, with the accepted units and an example in the fix', (t) => {
  const parse = { duration: parseDuration, size: parseSize, rate: parseRate };
  const example = { duration: /e\.g\. --x 30s or --x 1h30m/, size: /e\.g\. --x 4MiB or --x 1GB/, rate: /e\.g\. --x 100MiB\/s or --x 50Mbit\/s/ };
  const units = { duration: /ms, s, m \(minutes\), h, d/, size: /KiB, MiB, GiB/, rate: /Mbit\/s/ };
  for (const [kind, text, says] of bad) {
    const err = t.throws(() => parse[kind](text, { label: '--x' }), { instanceOf: D7yError }, `${kind} ${text}`);
    t.is(err?.code, 'D7Y_INVALID_ARGUMENT');
    t.regex(err?.message ?? '', says, `${kind} ${JSON.stringify(text)}`);
    t.true(err?.message.startsWith(`--x "${text}"`), err?.message);
    t.regex(err?.fix ?? '', units[kind], `${kind} ${text}`);
    t.regex(err?.fix ?? '', example[kind], `${kind} ${text}`);
  }
});

test('formatting gives the shortest exact spelling', (t) => {
  t.is(formatDuration(0), '0s');
  t.is(formatDuration(5_400_000), '1h30m');
  t.is(formatDuration(93_784_005), '1d2h3m4s5ms');
  t.is(formatSize(4 * MIB), '4MiB');
  t.is(formatSize(1_000_000), '1MB');
  t.is(formatSize(1500), '1500B');
  t.is(formatRate(0), '0');
  t.is(formatRate(0, { unlimited: true }), 'unlimited');
  t.is(formatRate(125_000_000), '1Gbit/s');
  t.is(formatRate(100_000_000), '100MB/s');
  t.is(formatRate(6_250_000), '50Mbit/s');
  t.is(formatRate(1250 * MIB), '1250MiB/s');
});

const whole = fc.maxSafeInteger().filter((n) => n >= 0);

test('format then parse gives the same value back (durations, sizes, rates)', (t) => {
  t.notThrows(() => fc.assert(fc.property(whole, (ms) => parseDuration(formatDuration(ms)) === ms)));
  t.notThrows(() => fc.assert(fc.property(whole, (bytes) => parseSize(formatSize(bytes)) === bytes)));
  t.notThrows(() => fc.assert(fc.property(whole, (bps) => parseRate(formatRate(bps)) === bps)));
  t.notThrows(() => fc.assert(fc.property(whole, (bps) => parseRate(formatRate(bps, { unlimited: true }), { unlimited: true }) === bps)));
  const unit = fc.constantFrom(1, 1000, KIB, 1e6, MIB, 1e9, GIB);
  t.notThrows(() => fc.assert(fc.property(fc.integer({ min: 0, max: 1_000_000 }), unit, (n, u) => parseSize(formatSize(n * u)) === n * u)));
  t.notThrows(() => fc.assert(fc.property(fc.integer({ min: 0, max: 10_000 }), fc.constantFrom(1, 1000, 60_000, 3_600_000, 86_400_000), (n, u) => parseDuration(formatDuration(n * u)) === n * u)));
});

test('parsing never throws anything but a D7yError, whatever the text', (t) => {
  t.notThrows(() => fc.assert(fc.property(fc.string(), (text) => {
    for (const parse of [parseDuration, parseSize, parseRate]) {
      try {
        const n = parse(text);
        if (!Number.isSafeInteger(n) || n < 0) return false;
      } catch (err) {
        if (!(err instanceof D7yError)) return false;
      }
    }
    return true;
  })), 'a parse returned a non-number or threw something else');
});
