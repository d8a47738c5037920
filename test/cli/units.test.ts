import test from 'ava';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { freePort, tmpDir } from '../support/env.js';
import { startOriginServer } from '../support/origin-server.js';
import { runCli } from '../support/run-cli.js';

test('d7y get --timeout 10 is refused before any download, with the units and an example; --timeout 10s downloads', async (t) => {
  const file = randomBytes(256 * 1024 + 3);
  const origin = await startOriginServer(t, { files: { '/f.bin': file } });
  const dir = await tmpDir(t);
  const env = { D7Y_DATA_DIR: join(dir, 'data') };

  const bare = await runCli(['get', origin.urlOf('/f.bin'), '-O', join(dir, 'a.bin'), '--timeout', '10', '--no-daemon'], { env });
  t.is(bare.code, 2, bare.stderr);
  t.regex(bare.stderr, /^d7y: --timeout "10" is not a duration: it has no unit, so it could be seconds or milliseconds\n/);
  t.regex(bare.stderr, /fix: write a duration with a unit \(ms, s, m \(minutes\), h, d\), e\.g\. --timeout 30s or --timeout 1h30m/);
  t.is(origin.served.requests(), 0, 'nothing was fetched');

  const ok = await runCli(['get', origin.urlOf('/f.bin'), '-O', join(dir, 'b.bin'), '--timeout', '10s', '--no-daemon', '--no-progress'], { env, timeoutMs: 60_000 });
  t.is(ok.code, 0, ok.stderr);
  t.deepEqual(await readFile(join(dir, 'b.bin')), file);
});

test('d7y preheat --timeout 10m passes the CLI and fails only for want of a manager; --timeout 3600 asks for a unit', async (t) => {
  const manager = `http://127.0.0.1:${await freePort()}`;
  const dir = await tmpDir(t);
  const env = { D7Y_DATA_DIR: dir, D7Y_MANAGER_URL: manager, D7Y_TOKEN: 'd7y_test' };

  const tenMinutes = await runCli(['preheat', 'http://127.0.0.1:1/f.bin', '--timeout', '10m'], { env });
  t.is(tenMinutes.code, 1, tenMinutes.stderr);
  t.regex(tenMinutes.stderr, /manager .* unreachable/);
  t.notRegex(tenMinutes.stderr, /timeout|duration|expected number/i);

  const seconds = await runCli(['preheat', 'http://127.0.0.1:1/f.bin', '--timeout', '3600'], { env });
  t.is(seconds.code, 2, seconds.stderr);
  t.regex(seconds.stderr, /--timeout "3600" is not a duration: it has no unit/);
  t.regex(seconds.stderr, /e\.g\. --timeout 30s or --timeout 1h30m/);

  const tooLong = await runCli(['preheat', 'http://127.0.0.1:1/f.bin', '--timeout', '2d'], { env });
  t.is(tooLong.code, 2, tooLong.stderr);
  t.regex(tooLong.stderr, /--timeout 2d is out of range: it must be from 1s to 1d/);

  const piece = await runCli(['task', 'id', 'https://example.com/f', '--piece-length', '8m']);
  t.is(piece.code, 2, piece.stderr);
  t.regex(piece.stderr, /--piece-length "8m" is not a size: unknown unit "m" \(write MiB for powers of 1024 or MB for powers of 1000\)/);
});

test('d7y config validate --print shows an old-style file in units, and the printout is a config that validates', async (t) => {
  const dir = await tmpDir(t);
  const env = { D7Y_DATA_DIR: join(dir, 'data') };
  const old = join(dir, 'old.yaml');
  await writeFile(old, 'peer:\n  download: { pieceTimeoutMs: 45000, rateLimit: 104857600, directMaxBytes: 1000000 }\n  announceIntervalMs: 90000\n');

  const shown = await runCli(['config', 'validate', old, '--role', 'peer', '--print'], { env });
  t.is(shown.code, 0, shown.stderr);
  const [first, ...rest] = shown.stdout.split('\n');
  t.is(first, `${old}: valid for peer`);
  const printed = parseYaml(rest.join('\n')) as { peer: { download: Record<string, unknown>; announceInterval: unknown } };
  t.like(printed.peer.download, { pieceTimeout: '45s', rateLimit: '100MiB/s', directMaxSize: '1MB' });
  t.is(printed.peer.announceInterval, '1m30s');

  const again = join(dir, 'new.yaml');
  await writeFile(again, rest.join('\n'));
  const reloaded = await runCli(['config', 'validate', again, '--role', 'peer', '--print'], { env });
  t.is(reloaded.code, 0, reloaded.stderr);
  t.is(reloaded.stdout.split('\n').slice(1).join('\n'), rest.join('\n'));

  const bad = join(dir, 'bad.yaml');
  await writeFile(bad, 'peer:\n  download: { pieceTimeout: 30000, stallTimeout: 2s, stallMs: 2000 }\n');
  const refused = await runCli(['config', 'validate', bad, '--role', 'peer', '--json'], { env });
  t.is(refused.code, 2, refused.stderr);
  const problems = (JSON.parse(refused.stdout) as { problems: { path: string; message: string }[] }).problems;
  t.true(problems.some((p) => p.path === 'peer.download.pieceTimeout' && /has no unit/.test(p.message)), refused.stdout);
});
