import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ExecutionContext, TestFn } from 'ava';
import type { SourceClient, SourceRequest } from '../contracts/source-client.js';
import { isD7yError } from '../errors/d7y-error.js';

/**
 * One test's view of a source under test, built fresh by `setup` for every test.
 *
 * An S3 fake, a GCS fake, a WebHDFS fake and an HTTP origin all fit: `urlOf` turns a key
 * (`dir/obj.bin`, always `/`-separated, never starting with `/`) into the URL the client reads,
 * `seed` puts bytes at that key through the backing server (not through the client), and
 * `request` carries whatever every request needs (object-storage credentials, an HDFS user).
 */
export interface SourceClientFixture {
  client: SourceClient;
  /** The URL of the object stored under `key`. */
  urlOf(key: string): string;
  /** A URL in the same origin/bucket whose object does not exist. */
  missingUrl: string;
  /** The name the not-found message must contain; defaults to the last path segment of `missingUrl`. */
  missingName?: string;
  /** Stores `bytes` under `key` in the backing server. */
  seed(key: string, bytes: Buffer): Promise<void>;
  /** The URL to list for keys under `prefix` (ends with `/`); needed with `features.list`. */
  listUrl?(prefix: string): string;
  /** Whether `client.put` writes to this backend; needed with `features.put`. */
  supportsPut?: boolean;
  /** A URL `stat` must refuse with D7Y_SOURCE_AUTH (bad credentials or forbidden); needed with `features.auth`. */
  unauthorizedUrl?: string;
  /** Extra request fields merged into every request (credentials, headers, options). */
  request?: Omit<SourceRequest, 'url' | 'signal'>;
}

export interface SourceClientContractOptions {
  /** Prefix of every test title, e.g. `'http'` or `'s3 (s3rver)'`. */
  name: string;
  /** Builds a fixture; register teardown of servers/clients on `t`. */
  setup(t: ExecutionContext): Promise<SourceClientFixture>;
  /** Size of the random object the transfer tests use; default 5 MiB. */
  objectSize?: number;
  /** How long an abort may take to end a stream; default 2000 ms. */
  abortWithinMs?: number;
  /**
   * Optional behaviours this source offers; their tests are registered only when set, and then
   * the fixture must provide what they need (`listUrl` + `client.list`, `supportsPut` + `client.put`,
   * `unauthorizedUrl`).
   */
  features?: { list?: boolean; put?: boolean; auth?: boolean };
}

/**
 * Registers the tests every SourceClient passes: exact length from `stat`, byte-exact full and
 * ranged downloads, not-found with a message naming the object, prompt abort by `signal`
 * (stream destroyed, D7Y_ABORTED), and — for the `features` declared — listing with sizes,
 * put round-trip and auth failures. Call it once at the top level of a plugin's test file.
 */
export function sourceClientContract<C = unknown>(test: TestFn<C>, options: SourceClientContractOptions): void {
  const size = options.objectSize ?? 5 * 1024 * 1024;
  const abortWithin = options.abortWithinMs ?? 2000;
  const title = (s: string) => `${options.name} contract: ${s}`;
  const req = (fx: SourceClientFixture, url: string, extra: Partial<SourceRequest> = {}): SourceRequest => ({ ...fx.request, ...extra, url });

  const seeded = async (t: ExecutionContext, key: string) => {
    const fx = await options.setup(t);
    const bytes = randomBytes(size);
    await fx.seed(key, bytes);
    return { fx, bytes, url: fx.urlOf(key) };
  };

  test(title('stat gives the exact length'), async (t) => {
    const { fx, url } = await seeded(t, 'contract/stat.bin');
    const st = await fx.client.stat(req(fx, url));
    t.is(st.contentLength, size);
  });

  test(title('a full download is byte-exact'), async (t) => {
    const { fx, bytes, url } = await seeded(t, 'contract/full.bin');
    const dl = await fx.client.download(req(fx, url));
    if (dl.contentLength !== undefined) t.is(dl.contentLength, size);
    const got = await digestOf(dl.stream);
    t.is(got.length, size);
    t.is(got.sha256, sha256(bytes));
  });

  test(title('ranged downloads are byte-exact (middle and last byte)'), async (t) => {
    const { fx, bytes, url } = await seeded(t, 'contract/range.bin');
    const cases = [
      { start: Math.floor(size / 2) - 17, length: Math.min(1024 * 1024 + 3, Math.floor(size / 2)) },
      { start: size - 1, length: 1 },
    ];
    for (const range of cases) {
      const dl = await fx.client.download({ ...req(fx, url), range });
      if (dl.contentLength !== undefined) t.is(dl.contentLength, range.length, `contentLength of ${JSON.stringify(range)}`);
      const got = await digestOf(dl.stream);
      t.is(got.length, range.length, `length of ${JSON.stringify(range)}`);
      t.is(got.sha256, sha256(bytes.subarray(range.start, range.start + range.length)), `bytes of ${JSON.stringify(range)}`);
    }
  });

  test(title('a missing object is D7Y_SOURCE_NOT_FOUND naming the object'), async (t) => {
    const fx = await options.setup(t);
    const name = fx.missingName ?? lastSegment(fx.missingUrl);
    for (const call of [() => fx.client.stat(req(fx, fx.missingUrl)), () => fx.client.download(req(fx, fx.missingUrl))]) {
      const err = await t.throwsAsync(call());
      t.true(isD7yError(err, 'D7Y_SOURCE_NOT_FOUND'), `code was ${(err as { code?: string } | undefined)?.code}: ${err?.message}`);
      t.true(err?.message.includes(name), `message "${err?.message}" should name ${name}`);
    }
  });

  test(title('an already aborted signal rejects with D7Y_ABORTED'), async (t) => {
    const { fx, url } = await seeded(t, 'contract/pre-abort.bin');
    const signal = AbortSignal.abort();
    for (const call of [() => fx.client.stat(req(fx, url, { signal })), () => fx.client.download(req(fx, url, { signal }))]) {
      const err = await t.throwsAsync(call());
      t.true(isD7yError(err, 'D7Y_ABORTED'), `code was ${(err as { code?: string } | undefined)?.code}: ${err?.message}`);
    }
  });

  test(title('abort mid-stream destroys the stream with D7Y_ABORTED promptly'), async (t) => {
    const { fx, url } = await seeded(t, 'contract/abort.bin');
    const ac = new AbortController();
    const dl = await fx.client.download(req(fx, url, { signal: ac.signal }));
    const first = await firstChunk(dl.stream, abortWithin * 5);
    t.true(first > 0, 'some bytes arrive before the abort');
    const startedAt = Date.now();
    ac.abort();
    const err = await withTimeout(drain(dl.stream), abortWithin, 'the stream did not end after abort');
    t.true(Date.now() - startedAt <= abortWithin, 'the stream ended promptly');
    t.true(dl.stream.destroyed, 'the stream is destroyed');
    t.true(isD7yError(err, 'D7Y_ABORTED'), `the stream failed with D7Y_ABORTED, got ${describe(err)}`);
  });

  const features = options.features ?? {};
  if (features.list) test(title('list returns the seeded keys under a prefix with sizes'), async (t) => {
    const fx = await options.setup(t);
    if (!fx.client.list || !fx.listUrl) return void t.fail('features.list is set: the fixture needs listUrl and the client list()');
    const keys: Record<string, number> = { 'lst/a.bin': 10, 'lst/sub/b.bin': 2000, 'lstx/c.bin': 7 };
    for (const [k, n] of Object.entries(keys)) await fx.seed(k, randomBytes(n));
    const found = new Map<string, number | undefined>();
    for await (const e of fx.client.list({ ...req(fx, fx.listUrl('lst/')), recursive: true })) {
      if (!e.isDirectory) found.set(e.path, e.contentLength);
    }
    t.deepEqual(Object.fromEntries([...found].sort()), { 'a.bin': 10, 'sub/b.bin': 2000 });
  });

  if (features.list) test(title('list entries can be stat-ed by their url'), async (t) => {
    const fx = await options.setup(t);
    if (!fx.client.list || !fx.listUrl) return void t.fail('features.list is set: the fixture needs listUrl and the client list()');
    await fx.seed('lst2/one.bin', randomBytes(4321));
    const entries = [];
    for await (const e of fx.client.list({ ...req(fx, fx.listUrl('lst2/')), recursive: true })) if (!e.isDirectory) entries.push(e);
    t.is(entries.length, 1);
    const st = await fx.client.stat(req(fx, entries[0]!.url));
    t.is(st.contentLength, 4321);
  });

  if (features.put) test(title('put round-trips byte-exact'), async (t) => {
    const fx = await options.setup(t);
    if (!fx.supportsPut || !fx.client.put) return void t.fail('features.put is set: the fixture needs supportsPut and the client put()');
    const bytes = randomBytes(Math.min(size, 3 * 1024 * 1024 + 5));
    const url = fx.urlOf('contract/put.bin');
    await fx.client.put({ ...req(fx, url), contentLength: bytes.length }, Readable.from([bytes]));
    const dl = await fx.client.download(req(fx, url));
    const got = await digestOf(dl.stream);
    t.is(got.sha256, sha256(bytes));
  });

  if (features.auth) test(title('an auth failure is D7Y_SOURCE_AUTH'), async (t) => {
    const fx = await options.setup(t);
    if (!fx.unauthorizedUrl) return void t.fail('features.auth is set: the fixture needs unauthorizedUrl');
    const err = await t.throwsAsync(fx.client.stat(req(fx, fx.unauthorizedUrl)));
    t.true(isD7yError(err, 'D7Y_SOURCE_AUTH'), `code was ${(err as { code?: string } | undefined)?.code}: ${err?.message}`);
  });
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

async function digestOf(stream: Readable): Promise<{ length: number; sha256: string }> {
  const h = createHash('sha256');
  let length = 0;
  for await (const chunk of stream) {
    h.update(chunk as Buffer);
    length += (chunk as Buffer).length;
  }
  return { length, sha256: h.digest('hex') };
}

function firstChunk(stream: Readable, timeoutMs: number): Promise<number> {
  return withTimeout(
    new Promise<number>((resolve, reject) => {
      stream.once('error', reject);
      stream.once('readable', () => {
        const chunk = stream.read() as Buffer | null;
        stream.off('error', reject);
        resolve(chunk?.length ?? 0);
      });
    }),
    timeoutMs,
    'no bytes arrived',
  );
}

/** Reads to the end; resolves with the error the stream failed with, or undefined if it ended. */
async function drain(stream: Readable): Promise<unknown> {
  try {
    for await (const _ of stream) { /* discard */ }
    return undefined;
  } catch (err) {
    return err;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms); });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function lastSegment(url: string): string {
  const parts = new URL(url).pathname.split('/').filter(Boolean);
  return decodeURIComponent(parts.at(-1) ?? url);
}

function describe(err: unknown): string {
  if (err === undefined) return 'a normal end';
  const e = err as { code?: string; message?: string };
  return `${e.code ?? 'no code'}: ${e.message ?? String(err)}`;
}
