import { crc32 } from 'node:zlib';
import { D7yError } from '../errors/d7y-error.js';

/** `crc32:<decimal>` of a whole buffer. */
export function pieceDigest(data: Uint8Array): string {
  return `crc32:${crc32(data)}`;
}

/** Incremental IEEE CRC-32 for streamed pieces. */
export class Crc32 {
  private value = 0;

  update(chunk: Uint8Array): this {
    this.value = crc32(chunk, this.value);
    return this;
  }

  digest(): string {
    return `crc32:${this.value >>> 0}`;
  }
}

/** Parses `crc32:<n>` or `sha256:<hex>` digests given by users or origins. */
export function parseDigest(text: string): { algorithm: 'crc32' | 'sha256' | 'sha512' | 'sha1' | 'md5'; value: string } {
  const m = /^(crc32|sha256|sha512|sha1|md5):([0-9a-fA-F]+)$/.exec(text.trim());
  if (!m) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `"${text}" is not a digest`, {
      fix: 'write sha256:<64 hex chars> or crc32:<decimal>',
    });
  }
  const algorithm = m[1] as 'crc32' | 'sha256' | 'sha512' | 'sha1' | 'md5';
  const lengths = { sha256: 64, sha512: 128, sha1: 40, md5: 32 } as Record<string, number>;
  if (algorithm === 'crc32' ? !/^\d+$/.test(m[2]) || Number(m[2]) > 0xffffffff : m[2].length !== lengths[algorithm]) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `"${text}" is not a valid ${algorithm} digest`, {
      fix: algorithm === 'crc32' ? 'crc32 digests are a decimal number below 4294967296' : `${algorithm} digests are ${lengths[algorithm]} hex characters`,
    });
  }
  return { algorithm, value: m[2].toLowerCase() };
}
