import { randomBytes } from 'node:crypto';
import { contentHashAlgorithm, contentHasher } from '../../core/task/content-hash.js';
import { crc32, crc32Backend } from '../../core/task/piece-digest.js';

/** CPU-seconds per GiB of each piece digest, measured in this process on the same bytes. */
export interface DigestCost {
  /** The crc32 implementation (the transport check every medium computes). */
  crc32Backend: string;
  crc32: number;
  /** The algorithm of trusted piece digests in this build, and its cost. */
  content: { algorithm: string; seconds: number };
  sha256: number;
}

/**
 * Hashes 1 GiB (a 4 MiB piece fed in 64 KiB chunks, as pieces arrive off a socket) with each
 * digest, taking the best of `rounds` for each so a neighbour's burst does not count.
 */
export function digestCost(rounds = 3): DigestCost {
  const piece = randomBytes(4 * 1024 * 1024);
  const chunks = Array.from({ length: piece.length / 65536 }, (_, i) => piece.subarray(i * 65536, (i + 1) * 65536));
  const pieces = 256;
  const cpu = (fn: () => void): number => {
    let best = Infinity;
    for (let r = 0; r < rounds; r += 1) {
      const c0 = process.cpuUsage();
      for (let i = 0; i < pieces; i += 1) fn();
      const c = process.cpuUsage(c0);
      best = Math.min(best, (c.user + c.system) / 1e6);
    }
    return best;
  };
  const hashWith = (algorithm?: 'sha256'): (() => void) => () => {
    const h = contentHasher(algorithm);
    for (const c of chunks) h.update(c);
    h.digest();
  };
  return {
    crc32Backend: crc32Backend(),
    crc32: cpu(() => { let v = 0; for (const c of chunks) v = crc32(c, v); }),
    content: { algorithm: contentHashAlgorithm(), seconds: cpu(hashWith()) },
    sha256: cpu(hashWith('sha256')),
  };
}

/** One line for a benchmark's output. */
export function formatDigestCost(d: DigestCost): string {
  const ratio = (x: number): string => `${(x / d.crc32).toFixed(1)}×`;
  return `piece digests, CPU-s per GiB in this process: crc32 (${d.crc32Backend}) ${d.crc32.toFixed(3)}, `
    + `${d.content.algorithm} ${d.content.seconds.toFixed(3)} (${ratio(d.content.seconds)} crc32)`
    + (d.content.algorithm === 'sha256' ? '' : `, sha256 ${d.sha256.toFixed(3)} (${ratio(d.sha256)} crc32)`);
}
