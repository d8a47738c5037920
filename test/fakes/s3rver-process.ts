import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stopProcess, waitForOutput } from '../support/run-cli.js';

/** The fixed keys s3rver accepts. */
export const S3RVER_KEY = { accessKeyId: 'S3RVER', accessKeySecret: 'S3RVER' } as const;

export interface S3rverInstance {
  endpoint: string;
  pid: number;
  directory: string;
  /** Stops the server by PID and removes its data; safe to call twice. */
  stop(): Promise<void>;
  /**
   * Stores `body` as `bucket/key` straight into s3rver's filesystem store (object, md5 and
   * metadata files), streaming, for seeding large or many objects fast. Keys: `[\w./-]` only.
   */
  writeObject(bucket: string, key: string, body: Readable | Buffer): Promise<void>;
}

export interface S3rverOptions {
  /** The address to listen on (default 127.0.0.1). */
  address?: string;
  /** Runs the command through another one (a benchmark's network namespace: `ip netns exec …`). */
  wrap?: (cmd: string, args: string[]) => [string, string[]];
}

/**
 * Starts s3rver (a real S3-compatible server in Node) in a child process on 127.0.0.1 (or `opts.address`) with a
 * random port and the given buckets. It runs with the OpenSSL legacy provider: s3rver encrypts
 * ListObjectsV2 continuation tokens with DES, which OpenSSL 3 refuses otherwise (every paginated
 * listing then fails with InternalError). The caller stops it (`stop`, by PID) in its teardown/after hook.
 */
export async function startS3rver(buckets: string[], opts: S3rverOptions = {}): Promise<S3rverInstance> {
  const directory = await mkdtemp(join(tmpdir(), 'd7y-s3rver-'));
  const bin = createRequire(import.meta.url).resolve('s3rver/bin/s3rver.js');
  const address = opts.address ?? '127.0.0.1';
  const args = ['--openssl-legacy-provider', bin, '-d', directory, '-a', address, '-p', '0', '--silent'];
  for (const b of buckets) args.push('--configure-bucket', b);
  const [cmd, cmdArgs] = opts.wrap ? opts.wrap(process.execPath, args) : [process.execPath, args];
  const child = spawn(cmd, cmdArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  const stop = async () => {
    await stopProcess(child);
    await rm(directory, { recursive: true, force: true });
  };
  try {
    const out = await waitForOutput(child, /listening on [\d.]+:(\d+)/, 20_000);
    child.stdout.resume();
    child.stderr.resume();
    const port = Number(/listening on [\d.]+:(\d+)/.exec(out)![1]);
    const writeObject = (bucket: string, key: string, body: Readable | Buffer) => storeObject(directory, bucket, key, body);
    return { endpoint: `http://${address}:${port}`, pid: child.pid!, directory, stop, writeObject };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function storeObject(directory: string, bucket: string, key: string, body: Readable | Buffer): Promise<void> {
  if (!/^[\w./-]+$/.test(key)) throw new Error(`writeObject supports plain keys only, not ${key}`);
  const base = join(directory, bucket, key);
  await mkdir(dirname(base), { recursive: true });
  const md5 = createHash('md5');
  const tap = new Transform({ transform(chunk: Buffer, _enc, cb) { md5.update(chunk); cb(null, chunk); } });
  await pipeline(Buffer.isBuffer(body) ? Readable.from([body]) : body, tap, createWriteStream(`${base}._S3rver_object`));
  await writeFile(`${base}._S3rver_object.md5`, md5.digest('hex'));
  await writeFile(`${base}._S3rver_metadata.json`, JSON.stringify({ 'content-type': 'application/octet-stream' }));
}
