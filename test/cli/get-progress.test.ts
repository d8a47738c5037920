import test from 'ava';
import { SpeedMeter, humanDuration, shareText, summaryLine } from '../../cli/get-progress.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

test('the summary line names the size, time, speed, the split and the target in human units', (t) => {
  const line = summaryLine({ bytes: GiB, seconds: 3.2, share: { fromPeers: 0.9 * GiB, fromOrigin: 0.1 * GiB, fromCache: 0 }, target: '/data/model.bin' });
  t.is(line, 'd7y: 1.0 GiB in 3.2 s (320.0 MiB/s): 921.6 MiB from peers, 102.4 MiB from the origin, 0 B from the local cache → /data/model.bin\n');
  t.is(summaryLine({ bytes: 3 * MiB, seconds: 125, share: {}, files: 3, target: '/d' }), 'd7y: 3 files, 3.0 MiB in 2m05s (24.6 KiB/s) → /d\n', 'an older peer that does not say the split: no split');
});

test('the speed is a moving average of the last seconds, not of the whole download', (t) => {
  const speed = new SpeedMeter(5_000);
  speed.add(0, 0);
  speed.add(100 * MiB, 1_000);
  t.is(speed.rate(), 100 * MiB);
  for (let s = 2; s <= 20; s += 1) speed.add(100 * MiB + (s - 1) * MiB, s * 1_000);
  t.is(Math.round(speed.rate() / MiB), 1, 'the burst of the first second is forgotten');
});

test('the share is in percent of the bytes so far; durations read as a person would say them', (t) => {
  t.is(shareText({ fromPeers: 3, fromOrigin: 1, fromCache: 0 }), 'peers 75% · origin 25% · cache 0%');
  t.is(shareText({}), '');
  t.is(humanDuration(0.25), '0.3 s');
  t.is(humanDuration(42), '42 s');
  t.is(humanDuration(3_720), '1h02m');
});
