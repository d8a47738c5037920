import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { D7yError } from '../errors/d7y-error.js';

/**
 * A pass-through that hashes what flows through it and fails the stream with D7Y_DIGEST_MISMATCH
 * at the end when the bytes do not match `digest` (`sha256:<hex>`), or when `expectedLength` is
 * given and the length differs. `what` names the object in the message.
 */
export class DigestVerifier extends Transform {
  private readonly hash: Hash;
  private readonly algorithm: string;
  private readonly expected: string;
  private seen = 0;

  constructor(digest: string, private readonly what: string, private readonly expectedLength?: number) {
    super();
    const [algorithm, hex] = digest.split(':') as [string, string];
    this.algorithm = algorithm;
    this.expected = hex.toLowerCase();
    this.hash = createHash(algorithm);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    this.hash.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    const got = this.hash.digest('hex');
    if (this.expectedLength !== undefined && this.seen !== this.expectedLength) {
      cb(new D7yError('D7Y_DIGEST_MISMATCH', `${this.what}: received ${this.seen} bytes, expected ${this.expectedLength}`, {
        fix: 'retry; if it persists the origin serves a truncated or changed object', details: { expectedLength: this.expectedLength, received: this.seen },
      }));
      return;
    }
    if (got !== this.expected) {
      cb(new D7yError('D7Y_DIGEST_MISMATCH', `${this.what}: ${this.algorithm} of the received bytes is ${got}, expected ${this.expected}`, {
        fix: 'the origin serves content that does not match its published digest; fix or re-publish it', details: { expected: `${this.algorithm}:${this.expected}`, got: `${this.algorithm}:${got}` },
      }));
      return;
    }
    cb();
  }
}
