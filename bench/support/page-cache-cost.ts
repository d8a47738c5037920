import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * CPU-seconds per GiB this process spends writing `mib` MiB into a new file in `dir` (256 KiB
 * writes, as a peer stores a piece; the file is removed after): what the page cache charges right
 * now for pages a file did not have. On some VMs that cost varies several-fold from minute to
 * minute, and every downloader in a run pays it for the bytes it stores, so a swarm record carries
 * the figure measured just before its mode.
 */
export function pageCacheWriteCost(dir: string, mib = 64): number {
  const file = join(dir, `.page-cache-probe-${process.pid}`);
  const chunk = Buffer.alloc(256 * 1024, 0x5a);
  const fd = openSync(file, 'wx');
  try {
    const c0 = process.cpuUsage();
    for (let i = 0; i < mib * 4; i += 1) writeSync(fd, chunk);
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1e6 / (mib / 1024);
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
}
