import { createRequire } from 'node:module';
import { D7yError } from '../errors/d7y-error.js';

type Crc32Fn = (data: Uint8Array, value?: number) => number;

/**
 * IEEE CRC-32. `@node-rs/crc32` (SIMD, about 4× zlib's speed here) where its prebuilt binary
 * exists for this platform; otherwise Node's `zlib.crc32`. Both give the same value.
 */
function loadCrc32(): { backend: 'node-rs' | 'zlib'; fn: Crc32Fn } {
  const require = createRequire(import.meta.url);
  try {
    const native = (require('@node-rs/crc32') as { crc32: (d: Buffer, v?: number) => number }).crc32;
    const fn: Crc32Fn = (data, value = 0) => native(Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength), value) >>> 0;
    return { backend: 'node-rs', fn };
  } catch {
    // Required here, not imported: loading zlib costs a CLI that checks no piece ~10 ms of CPU.
    const zlibCrc32 = (require('node:zlib') as typeof import('node:zlib')).crc32;
    return { backend: 'zlib', fn: (data, value = 0) => zlibCrc32(data, value) };
  }
}

// Loaded on first use: the CLI's `get` imports this module but checks no piece itself.
let loaded: ReturnType<typeof loadCrc32> | undefined;

/** Which implementation computes piece digests in this process. */
export function crc32Backend(): 'node-rs' | 'zlib' {
  return (loaded ??= loadCrc32()).backend;
}

export const crc32: Crc32Fn = (data, value) => (loaded ??= loadCrc32()).fn(data, value);

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

type DigestAlgorithm = 'crc32' | 'sha256' | 'sha512' | 'sha1' | 'md5' | 'blake3';

/** Parses `crc32:<n>`, `sha256:<hex>` or `blake3:<hex>` digests given by users or origins. */
export function parseDigest(text: string): { algorithm: DigestAlgorithm; value: string } {
  const m = /^(crc32|sha256|sha512|sha1|md5|blake3):([0-9a-fA-F]+)$/.exec(text.trim());
  if (!m) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `"${text}" is not a digest`, {
      fix: 'write sha256:<64 hex chars> or crc32:<decimal>',
    });
  }
  const algorithm = m[1] as DigestAlgorithm;
  const lengths = { sha256: 64, sha512: 128, sha1: 40, md5: 32, blake3: 64 } as Record<string, number>;
  if (algorithm === 'crc32' ? !/^\d+$/.test(m[2]) || Number(m[2]) > 0xffffffff : m[2].length !== lengths[algorithm]) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `"${text}" is not a valid ${algorithm} digest`, {
      fix: algorithm === 'crc32' ? 'crc32 digests are a decimal number below 4294967296' : `${algorithm} digests are ${lengths[algorithm]} hex characters`,
    });
  }
  return { algorithm, value: m[2].toLowerCase() };
}
