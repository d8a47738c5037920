import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { crc32 as zlibCrc32 } from 'node:zlib';

const BLOCK = 1024 * 1024;

/**
 * A deterministic stream of `size` pseudo-random bytes, made block by block (1 MiB at a time,
 * never the whole object in memory): one random block, each copy stamped with its block number.
 * `sha256` (empty above 64 MiB, where only crc32 is worth its cost) and `crc32` resolve when the stream has ended, with the digests of every byte it produced.
 */
export function patternStream(size: number): { stream: Readable; sha256: Promise<string>; crc32: Promise<number> } {
  const base = randomBytes(BLOCK);
  const hash = createHash('sha256');
  let sent = 0;
  let block = 0;
  let crc = 0;
  let settle!: (hex: string) => void;
  let settleCrc!: (n: number) => void;
  const sha256 = new Promise<string>((resolve) => { settle = resolve; });
  const crc32 = new Promise<number>((resolve) => { settleCrc = resolve; });
  const withSha = size <= 64 * BLOCK;
  const stream = new Readable({
    highWaterMark: BLOCK,
    read() {
      if (sent >= size) {
        settle(withSha ? hash.digest('hex') : '');
        settleCrc(crc);
        this.push(null);
        return;
      }
      const n = Math.min(BLOCK, size - sent);
      const chunk = Buffer.allocUnsafe(n);
      base.copy(chunk, 0, 0, n);
      if (n >= 8) chunk.writeBigUInt64BE(BigInt(block), 0);
      if (withSha) hash.update(chunk);
      crc = zlibCrc32(chunk, crc);
      sent += n;
      block += 1;
      this.push(chunk);
    },
  });
  return { stream, sha256, crc32 };
}

/** Samples this process's RSS every `everyMs` until `stop`; `peak` is the highest seen. */
export function rssSampler(everyMs = 50): { readonly baseline: number; peak(): number; stop(): number } {
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()); }, everyMs);
  return {
    baseline,
    peak: () => Math.max(peak, process.memoryUsage.rss()),
    stop: () => {
      clearInterval(timer);
      peak = Math.max(peak, process.memoryUsage.rss());
      return peak;
    },
  };
}
