import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';

/** The cryptographic digests a piece's trusted digest may be written in. */
export type ContentHashAlgorithm = 'blake3' | 'sha256';

/** An incremental cryptographic hash of a piece's bytes. */
export interface ContentHasher {
  update(chunk: Uint8Array): void;
  /** `<algorithm>:<64 hex chars>`; call once. */
  digest(): string;
}

interface Blake3Hasher {
  update(input: Uint8Array): Blake3Hasher;
  digest(encoding: 'hex'): string;
}

type Blake3Ctor = new () => Blake3Hasher;

/**
 * BLAKE3 from `@napi-rs/blake-hash` (native, about 4.7× cheaper in CPU than sha256 here), when its
 * prebuilt binary exists for this platform; otherwise undefined and digests are sha256 (node's
 * crypto, using the CPU's SHA instructions).
 */
function loadBlake3(): Blake3Ctor | null {
  try {
    return (createRequire(import.meta.url)('@napi-rs/blake-hash') as { Blake3Hasher: Blake3Ctor }).Blake3Hasher;
  } catch {
    return null;
  }
}

let blake3: Blake3Ctor | null | undefined;
const blake3Ctor = (): Blake3Ctor | null => (blake3 === undefined ? (blake3 = loadBlake3()) : blake3);

/** The algorithm this process writes trusted piece digests in: blake3 where it loads, else sha256. */
export function contentHashAlgorithm(): ContentHashAlgorithm {
  return blake3Ctor() ? 'blake3' : 'sha256';
}

/** Whether this process can check digests written in `algorithm`. */
export function canHash(algorithm: string): algorithm is ContentHashAlgorithm {
  return algorithm === 'sha256' || (algorithm === 'blake3' && blake3Ctor() !== null);
}

/** A new hasher in `algorithm` (default: this process's own); throws for an algorithm it cannot compute. */
export function contentHasher(algorithm: ContentHashAlgorithm = contentHashAlgorithm()): ContentHasher {
  if (algorithm === 'blake3') {
    const Ctor = blake3Ctor();
    if (!Ctor) throw new Error('blake3 is not available in this process (@napi-rs/blake-hash did not load)');
    return new StagedBlake3(new Ctor());
  }
  const h = createHash('sha256');
  return { update: (c) => void h.update(c), digest: () => `sha256:${h.digest('hex')}` };
}

/** Chunks below this size are gathered before they are hashed. */
const STAGE_BYTES = 64 * 1024;

/**
 * BLAKE3 fed in calls of at least STAGE_BYTES where it can: a socket read on a slow link is a few
 * KiB, and one native call per such chunk costs four times the hashing itself. Small chunks are
 * copied into a staging buffer (chunks may be reused by their owner after the call).
 */
class StagedBlake3 implements ContentHasher {
  private stage?: Buffer;
  private staged = 0;

  constructor(private readonly h: Blake3Hasher) {}

  update(chunk: Uint8Array): void {
    if (chunk.length >= STAGE_BYTES) {
      this.flush();
      this.h.update(chunk);
      return;
    }
    if (this.staged + chunk.length > STAGE_BYTES) this.flush();
    this.stage ??= Buffer.allocUnsafe(STAGE_BYTES);
    this.stage.set(chunk, this.staged);
    this.staged += chunk.length;
  }

  digest(): string {
    this.flush();
    return `blake3:${this.h.digest('hex')}`;
  }

  private flush(): void {
    if (this.staged === 0) return;
    this.h.update(this.stage!.subarray(0, this.staged));
    this.staged = 0;
  }
}

/** The trusted digest of a whole buffer. */
export function contentDigest(data: Uint8Array, algorithm?: ContentHashAlgorithm): string {
  const h = contentHasher(algorithm);
  h.update(data);
  return h.digest();
}

const TRUSTED = /^(blake3|sha256):[0-9a-f]{64}$/;

/** Whether `text` is a cryptographic piece digest (`blake3:<hex>` or `sha256:<hex>`); crc32 is not. */
export function isContentDigest(text: string | undefined): text is string {
  return text !== undefined && TRUSTED.test(text);
}

/** The algorithm of a content digest. */
export function algorithmOf(digest: string): string {
  return digest.slice(0, digest.indexOf(':'));
}
