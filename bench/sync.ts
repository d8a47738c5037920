import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { D7yError } from '../core/errors/d7y-error.js';
import { S3RVER_KEY, startS3rver } from '../test/fakes/s3rver-process.js';
import { appendJsonLines, formatTable } from './support/bench-files.js';
import { requireRclone, randomMiB } from './support/rclone.js';
import { Teardown } from './support/teardown.js';

const d7yBin = new URL('../cli/d7y.js', import.meta.url).pathname;

function flag(argv: string[], name: string, fallback: number): number {
  const at = argv.indexOf(name);
  if (at < 0) return fallback;
  const n = Number(argv[at + 1]);
  if (!Number.isInteger(n) || n < 1) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `${name} ${argv[at + 1]} is not a positive whole number`, { fix: 'npm run bench -- sync [--small N] [--small-kib K] [--large N] [--large-mib M] [--out f]' });
  }
  return n;
}

/** Seconds the command took. AWS_CA_BUNDLE is dropped: rclone's S3 client refuses a custom bundle with its own transport. */
async function timed(cmd: string, args: string[]): Promise<number> {
  const env = { ...process.env };
  delete env.AWS_CA_BUNDLE;
  const t0 = performance.now();
  await promisify(execFile)(cmd, args, { env, timeout: 1_800_000, maxBuffer: 64 * 2 ** 20 });
  return (performance.now() - t0) / 1000;
}

/**
 * `npm run bench -- sync`: on one s3rver (loopback), a tree of small objects and one of large ones;
 * each synced S3 → S3 and S3 → local directory by `d7y sync` (no daemon: a peer in the process,
 * as on a host without one) and by `rclone sync`, first run and then an incremental run with
 * nothing changed. Prints seconds and the d7y/rclone ratios.
 */
export async function run(argv: string[]): Promise<void> {
  const small = flag(argv, '--small', 1000);
  const smallKiB = flag(argv, '--small-kib', 4);
  const large = flag(argv, '--large', 10);
  const largeMiB = flag(argv, '--large-mib', 16);
  const outAt = argv.indexOf('--out');
  const teardown = new Teardown();
  try {
    await requireRclone();
    const work = await mkdtemp(join(tmpdir(), 'd7y-bench-sync-'));
    teardown.add('remove work dir', () => rm(work, { recursive: true, force: true }));
    const s3 = await startS3rver(['src', 'd7y', 'rclone']);
    teardown.add('stop s3rver', () => s3.stop());
    for (let i = 0; i < small; i++) await s3.writeObject('src', `small/d${i % 10}/f-${i}.bin`, randomBytes(smallKiB * 1024));
    for (let i = 0; i < large; i++) await s3.writeObject('src', `large/f-${i}.bin`, Readable.from(randomMiB(largeMiB)));
    const storage = ['--storage-endpoint', s3.endpoint, '--storage-region', 'us-east-1', '--storage-access-key-id', S3RVER_KEY.accessKeyId, '--storage-access-key-secret', S3RVER_KEY.accessKeySecret];
    const remote = `:s3,provider=Other,endpoint='${s3.endpoint}',access_key_id=${S3RVER_KEY.accessKeyId},secret_access_key=${S3RVER_KEY.accessKeySecret},region=us-east-1,force_path_style=true:`;
    const rows: (string | number)[][] = [];
    const records: object[] = [];
    for (const tree of ['small', 'large'] as const) {
      for (const to of ['s3', 'local'] as const) {
        const d7yDst = to === 's3' ? `s3://d7y/${tree}/` : join(work, 'd7y', tree);
        const rcloneDst = to === 's3' ? `${remote}rclone/${tree}` : join(work, 'rclone', tree);
        const d7yArgs = [d7yBin, 'sync', `s3://src/${tree}/`, d7yDst, '--no-daemon', '--no-progress', '--data-dir', join(work, `data-${tree}-${to}`), '--concurrency', '8', ...storage];
        const rcloneArgs = ['sync', `${remote}src/${tree}`, rcloneDst, '--transfers', '8', '--checkers', '8'];
        const d7yFirst = await timed(process.execPath, d7yArgs);
        const rcloneFirst = await timed('rclone', rcloneArgs);
        const d7yAgain = await timed(process.execPath, d7yArgs);
        const rcloneAgain = await timed('rclone', rcloneArgs);
        const files = tree === 'small' ? small : large;
        const size = tree === 'small' ? `${smallKiB} KiB` : `${largeMiB} MiB`;
        rows.push([`${files} × ${size}`, `s3 → ${to}`, d7yFirst.toFixed(2), rcloneFirst.toFixed(2), (d7yFirst / rcloneFirst).toFixed(2), d7yAgain.toFixed(2), rcloneAgain.toFixed(2), (d7yAgain / rcloneAgain).toFixed(2)]);
        records.push({ tree, files, objectBytes: tree === 'small' ? smallKiB * 1024 : largeMiB * 2 ** 20, to, d7yFirstS: d7yFirst, rcloneFirstS: rcloneFirst, d7yIncrementalS: d7yAgain, rcloneIncrementalS: rcloneAgain });
      }
    }
    process.stdout.write(`${formatTable(['tree', 'sync', 'd7y first s', 'rclone first s', 'ratio', 'd7y again s', 'rclone again s', 'ratio'], rows)}\n`);
    const file = await appendJsonLines(outAt >= 0 ? argv[outAt + 1] : undefined, 'sync', records);
    process.stdout.write(`figures appended to ${file}\n`);
  } finally {
    await teardown.run();
  }
}

