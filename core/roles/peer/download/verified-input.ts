import { Readable, Transform } from 'node:stream';
import type { PieceFeed } from '../../../contracts/storage-medium.js';
import { D7yError } from '../../../errors/d7y-error.js';
import { algorithmOf, canHash, contentHashAlgorithm, contentHasher, type ContentHasher } from '../../../task/content-hash.js';

/** Why a piece from a parent was refused by its trusted digest. */
export type TrustFailure = 'corrupt' | 'unverified';

/** The TrustFailure of an error a verified input raised, if it is one. */
export function trustFailureOf(err: D7yError): TrustFailure | undefined {
  const trust = err.details?.trust;
  return trust === 'corrupt' || trust === 'unverified' ? trust : undefined;
}

export interface VerifiedInput<T extends PieceFeed | Readable> {
  /** The same bytes; ends only once they matched the trusted digest, else fails (so the medium keeps nothing). */
  input: T;
  /** The trusted digest the bytes matched, once they did. */
  contentDigest(): string | undefined;
}

/**
 * Wraps a piece's bytes from a parent so that they are hashed as they pass and, after the last
 * one, checked against the piece's trusted digest (`trusted()`, which may wait for it) before the
 * input ends: the medium sees a failed input when the bytes differ (`trust: 'corrupt'`) or no
 * trusted digest came (`trust: 'unverified'`), and records nothing. Bytes still flow to the
 * medium (and on to children, cut-through) while they arrive.
 */
export function verifiedInput<T extends PieceFeed | Readable>(body: T, known: string | undefined,
  trusted: () => Promise<string | undefined>, what: string): VerifiedInput<T> {
  const hasher = contentHasher(known && canHash(algorithmOf(known)) ? algorithmOf(known) as 'blake3' | 'sha256' : contentHashAlgorithm());
  let matched: string | undefined;
  const verify = async (): Promise<void> => {
    const actual = hasher.digest();
    const want = await trusted();
    if (!want || algorithmOf(want) !== algorithmOf(actual)) {
      throw new D7yError('D7Y_TIMEOUT', `${what}: no trusted digest to check it against${want ? ` this peer can compute (${want})` : ''}`, {
        fix: 'the scheduler did not learn the piece digests from the seed peer or the origin; the piece is fetched elsewhere',
        details: { trust: 'unverified' },
      });
    }
    if (want !== actual) {
      throw new D7yError('D7Y_DIGEST_MISMATCH', `${what} has digest ${actual}, not the trusted ${want}`, {
        fix: 'nothing to do: the parent is blocked for the task and the piece is fetched from another peer',
        details: { trust: 'corrupt', expected: want, actual },
      });
    }
    matched = want;
  };
  const input = isFeed(body) ? verifiedFeed(body, hasher, verify) : verifiedStream(body as Readable, hasher, verify);
  return { input: input as T, contentDigest: () => matched };
}

function isFeed(body: PieceFeed | Readable): body is PieceFeed {
  return (body as PieceFeed).kind === 'piece-feed';
}

function verifiedFeed(feed: PieceFeed, hasher: ContentHasher, verify: () => Promise<void>): PieceFeed {
  return {
    kind: 'piece-feed',
    async pipe(onChunk) {
      await feed.pipe((chunk) => {
        hasher.update(chunk);
        return onChunk(chunk);
      });
      await verify();
    },
    destroy: (err) => feed.destroy(err),
  };
}

function verifiedStream(body: Readable, hasher: ContentHasher, verify: () => Promise<void>): Readable {
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hasher.update(chunk);
      cb(null, chunk);
    },
    flush(cb) {
      verify().then(() => cb(), (err: Error) => cb(err));
    },
  });
  body.on('error', (err) => t.destroy(err));
  t.on('close', () => { if (!body.readableEnded) body.destroy(); });
  return body.pipe(t);
}
