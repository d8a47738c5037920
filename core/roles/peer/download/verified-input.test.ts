import { Readable } from 'node:stream';
import test from 'ava';
import type { PieceFeed } from '../../../contracts/storage-medium.js';
import { isD7yError } from '../../../errors/d7y-error.js';
import { contentDigest } from '../../../task/content-hash.js';
import { trustFailureOf, verifiedInput } from './verified-input.js';

const bytes = Buffer.alloc(300_000, 7);
const trusted = contentDigest(bytes);

function feedOf(chunks: Buffer[]): PieceFeed {
  return {
    kind: 'piece-feed',
    async pipe(onChunk) {
      for (const c of chunks) await onChunk(c);
    },
    destroy: () => undefined,
  };
}

async function drain(input: PieceFeed | Readable): Promise<number> {
  let n = 0;
  if ((input as PieceFeed).kind === 'piece-feed') await (input as PieceFeed).pipe((c) => { n += c.length; });
  else for await (const c of input as Readable) n += (c as Buffer).length;
  return n;
}

const chunks = (b: Buffer): Buffer[] => [b.subarray(0, 100_000), b.subarray(100_000)];

test('bytes that match the trusted digest pass, fed or streamed, even when the digest comes after them', async (t) => {
  for (const make of [() => feedOf(chunks(bytes)), () => Readable.from(chunks(bytes))]) {
    let later: (d: string) => void = () => undefined;
    const v = verifiedInput(make(), undefined, () => new Promise((r) => { later = r; }), 'piece 0');
    const drained = drain(v.input);
    setTimeout(() => later(trusted), 20);
    t.is(await drained, bytes.length);
    t.is(v.contentDigest(), trusted);
  }
});

test('bytes that differ fail as corrupt; no trusted digest fails as unverified', async (t) => {
  const bad = Buffer.from(bytes);
  bad[1234] ^= 1;
  for (const make of [() => feedOf(chunks(bad)), () => Readable.from(chunks(bad))]) {
    const v = verifiedInput(make(), trusted, async () => trusted, 'piece 0 from parent p');
    const err = await t.throwsAsync(drain(v.input));
    t.true(isD7yError(err, 'D7Y_DIGEST_MISMATCH'));
    t.is(isD7yError(err) ? trustFailureOf(err) : undefined, 'corrupt');
    t.regex(err!.message, /piece 0 from parent p has digest .* not the trusted/);
    t.is(v.contentDigest(), undefined);
  }
  const v = verifiedInput(feedOf(chunks(bytes)), undefined, async () => undefined, 'piece 0');
  const err = await t.throwsAsync(drain(v.input));
  t.is(isD7yError(err) ? trustFailureOf(err) : undefined, 'unverified');
});
