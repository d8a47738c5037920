import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { createLogger } from './logger.js';

test('secrets with a shape are censored wherever they sit in a line: messages, errors, URLs, headers', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'd7y-scrub-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'log.jsonl');
  const logger = createLogger({ level: 'debug', destination: file, format: 'json' });
  const url = 'https://bucket.s3.example/o?X-Amz-Credential=AKIAEXAMPLE%2F2026&X-Amz-Signature=0123abcd0123abcd&x-id=GetObject';
  logger.debug({ url, err: new Error(`GET ${url} failed`) }, `fetching ${url} with Bearer d7ys.eyJzdWIiOiJ4In0.c2lnbmF0dXJl`);
  logger.info(`token d7y_${'A'.repeat(43)} used; database postgres://d7y:hunter22@db/d7y; header Basic dXNlcjpwYXNzd29yZA==`);
  logger.flush();
  const text = await readFile(file, 'utf8');
  for (const secret of ['0123abcd0123abcd', 'AKIAEXAMPLE', 'eyJzdWIiOiJ4In0', 'A'.repeat(43), 'hunter22', 'dXNlcjpwYXNzd29yZA']) {
    t.false(text.includes(secret), `${secret} in ${text}`);
  }
  t.true(text.includes('X-Amz-Signature=[redacted]&x-id=GetObject'), 'the rest of the URL stays readable');
  t.true(text.includes('Bearer [redacted]'));
});
