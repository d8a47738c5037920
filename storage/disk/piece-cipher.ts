import { createCipheriv, createDecipheriv, createHash, randomBytes, type Cipher, type Decipher } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { D7yError, type Logger } from '../../core/index.js';

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/**
 * The most bytes given to one cipher call. Node allocates a new output buffer per call, and calls on
 * megabytes run several times slower per byte than on tens of kilobytes (measured: 4 MiB calls
 * about 0.3 GB/s, 64 KiB calls 2–3 GB/s, AES-GCM on one core).
 */
const SLICE_BYTES = 64 * 1024;

/** The piece a sealed piece belongs to: bound into the cipher so that no stored piece can stand for another. */
export interface SealedPieceRef {
  taskId: string;
  number: number;
  offset: number;
  length: number;
}

/** One piece being encrypted: `update` gives the ciphertext of each chunk (same length in all); `seal` ends it. */
export interface PieceSealer {
  /** The nonce of this write (kept in memory while the piece is written, for `unsealedReader`). */
  readonly nonce: Buffer;
  /** The ciphertext of `chunk`, in consecutive slices of at most 64 KiB. */
  update(chunk: Buffer): Buffer[];
  /** `v1.<key id>.<nonce>.<tag>` (base64url), kept with the piece record. */
  seal(): string;
}

/**
 * One stored piece being decrypted: the whole ciphertext, in order, goes through `update`; `check`
 * then authenticates it. No plain byte may be used before `check` returned.
 */
export interface PieceOpener {
  /** The plain bytes of `chunk`, in consecutive slices of at most 64 KiB. */
  update(chunk: Buffer): Buffer[];
  /** Throws a D7Y_STORAGE_ERROR when the bytes are not the ones sealed (changed on disk). */
  check(): void;
}

/** Plain bytes of a piece still being written, from a given offset of it, chunk after chunk; unauthenticated. */
export interface UnsealedReader {
  /** The plain bytes of the next `chunk` of ciphertext, in consecutive slices of at most 64 KiB. */
  update(chunk: Buffer): Buffer[];
}

function inSlices(cipher: Cipher | Decipher, chunk: Buffer): Buffer[] {
  if (chunk.length <= SLICE_BYTES) return [cipher.update(chunk)];
  const out: Buffer[] = [];
  for (let at = 0; at < chunk.length; at += SLICE_BYTES) out.push(cipher.update(chunk.subarray(at, at + SLICE_BYTES)));
  return out;
}

function aad(ref: SealedPieceRef): Buffer {
  return Buffer.from(`d7y-piece-v1:${ref.taskId}:${ref.number}:${ref.offset}:${ref.length}`);
}

/**
 * Encryption at rest of the disk storage: AES-256-GCM per piece, a random 96-bit nonce for each
 * piece write, the tag and nonce stored beside the piece in its record (never the key). The key is
 * read from `keyFile`: 32 bytes as 64 hex characters or base64, or 32 raw bytes. Pieces are
 * checked (crc32, trusted digests) on their plain bytes, so encryption is invisible to peers.
 */
export class PieceCipher {
  /** The first 8 hex characters of the key's sha256: tells a piece written with another key. */
  readonly keyId: string;

  private constructor(private readonly key: Buffer, readonly keyFile: string) {
    this.keyId = createHash('sha256').update(key).digest('hex').slice(0, 8);
  }

  static async load(keyFile: string, logger?: Logger): Promise<PieceCipher> {
    let raw: Buffer;
    try {
      raw = await readFile(keyFile);
    } catch (err) {
      throw new D7yError('D7Y_CONFIG_INVALID', `disk storage encryption.keyFile ${keyFile} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
        cause: err, fix: `write a key into it (openssl rand -hex 32 > ${keyFile}; chmod 600 ${keyFile}) or point encryption.keyFile at the key`,
      });
    }
    const text = raw.toString('utf8').trim();
    const key = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex')
      : raw.length === 32 ? raw
        : /^[A-Za-z0-9+/_-]{43}=?$/.test(text) ? Buffer.from(text, 'base64') : undefined;
    if (!key || key.length !== 32) {
      throw new D7yError('D7Y_CONFIG_INVALID', `disk storage encryption.keyFile ${keyFile} does not hold a 256-bit key`, {
        fix: `write 32 random bytes as hex into it: openssl rand -hex 32 > ${keyFile}; chmod 600 ${keyFile}`,
      });
    }
    const mode = (await stat(keyFile)).mode & 0o777;
    if (mode & 0o077) logger?.warn({ file: keyFile, mode: mode.toString(8) }, 'disk storage encryption.keyFile is readable by other users; chmod 600 it');
    return new PieceCipher(key, keyFile);
  }

  /** Starts encrypting one piece. */
  sealer(ref: SealedPieceRef): PieceSealer {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
    cipher.setAAD(aad(ref));
    return {
      nonce,
      update: (chunk) => inSlices(cipher, chunk),
      seal: () => {
        cipher.final();
        return `v1.${this.keyId}.${nonce.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}`;
      },
    };
  }

  /**
   * Plain bytes of a piece still being written, from `start` of it, decrypted with the keystream of
   * its write (GCM is counter mode: block i of the piece uses counter 2 + i) without the tag, which
   * does not exist yet. For passing a piece on while it arrives (cut-through) only: the receivers
   * check its digest, as they do for any piece in transit.
   */
  unsealedReader(nonce: Buffer, start: number): UnsealedReader {
    const iv = Buffer.alloc(16);
    nonce.copy(iv, 0);
    iv.writeUInt32BE((2 + Math.floor(start / 16)) >>> 0, 12);
    const ctr = createDecipheriv('aes-256-ctr', this.key, iv);
    ctr.update(Buffer.alloc(start % 16));
    return { update: (chunk) => inSlices(ctr, chunk) };
  }

  /**
   * Starts decrypting a whole stored piece; throws a D7Y_STORAGE_ERROR at once when it was stored
   * without encryption or with another key. Never wrong bytes: see PieceOpener.
   */
  opener(ref: SealedPieceRef, seal: string | undefined): PieceOpener {
    const what = `piece ${ref.number} of task ${ref.taskId}`;
    const parts = seal?.split('.') ?? [];
    if (parts.length !== 4 || parts[0] !== 'v1') {
      throw new D7yError('D7Y_STORAGE_ERROR', `${what} was stored without encryption, and the disk storage now encrypts`, {
        fix: 'delete the task (d7y task rm <id>) so that it is fetched again, or start without encryption to read it',
      });
    }
    if (parts[1] !== this.keyId) {
      throw new D7yError('D7Y_STORAGE_ERROR', `${what} was encrypted with another key (id ${parts[1]}) than the one in ${this.keyFile} (id ${this.keyId})`, {
        fix: `start the peer with the encryption.keyFile the pieces were written with, or delete the task (d7y task rm <id>) so that it is fetched again`,
      });
    }
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(parts[2]!, 'base64url'));
    decipher.setAAD(aad(ref));
    decipher.setAuthTag(Buffer.from(parts[3]!, 'base64url').subarray(0, TAG_BYTES));
    return {
      update: (chunk) => inSlices(decipher, chunk),
      check: () => {
        try {
          decipher.final();
        } catch (err) {
          throw new D7yError('D7Y_STORAGE_ERROR', `${what} fails its authentication check with the key in ${this.keyFile}: its bytes changed on disk`, {
            cause: err, fix: 'delete the task (d7y task rm <id>) so that it is fetched again, and check the disk',
          });
        }
      },
    };
  }
}
