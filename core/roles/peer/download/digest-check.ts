import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { D7yError } from '../../../errors/d7y-error.js';
import { contentHasher, type ContentHasher } from '../../../task/content-hash.js';
import { Crc32, parseDigest } from '../../../task/piece-digest.js';

/**
 * A pass-through that computes a digest of the bytes flowing through it, in the format of
 * `expected` (`sha256:<hex>`, `crc32:<n>`, ...). `check()` after the end says whether it matched.
 */
export class DigestCheck extends Transform {
  private readonly hash?: Hash;
  private readonly content?: ContentHasher;
  private readonly crc?: Crc32;
  private readonly algorithm: string;
  private readonly value: string;

  constructor(readonly expected: string) {
    super();
    const d = parseDigest(expected);
    this.algorithm = d.algorithm;
    this.value = d.value;
    if (d.algorithm === 'crc32') this.crc = new Crc32();
    else if (d.algorithm === 'blake3') this.content = contentHasher('blake3');
    else this.hash = createHash(d.algorithm);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.update(chunk);
    cb(null, chunk);
  }

  /** Adds bytes to the digest without passing them through the stream. */
  update(chunk: Uint8Array): void {
    if (this.crc) this.crc.update(chunk);
    else if (this.content) this.content.update(chunk);
    else this.hash!.update(chunk);
  }

  /** The digest of everything seen, in the expected format. */
  actual(): string {
    if (this.crc) return this.crc.digest();
    if (this.content) return this.content.digest();
    return `${this.algorithm}:${this.hash!.digest('hex')}`;
  }

  /** Throws D7Y_DIGEST_MISMATCH naming both digests when they differ. */
  check(what: string): void {
    const actual = this.actual();
    const want = this.algorithm === 'crc32' ? `crc32:${Number(this.value)}` : `${this.algorithm}:${this.value}`;
    if (actual !== want) {
      throw new D7yError('D7Y_DIGEST_MISMATCH', `${what} has digest ${actual}, not the ${want} asked for`, {
        fix: 'check the --digest value; if it is right, the origin serves different content than expected',
        details: { expected: want, actual },
      });
    }
  }
}
