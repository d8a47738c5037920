import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * How this machine gives memory back to a hypervisor, read from sysfs: free page reporting (the
 * guest hands free blocks of 2^order pages to its host, which drops them until they are touched
 * again) and DAMON schemes that page out memory left cold. On such a VM the first write into a
 * page the host dropped waits for the host to back it again, and that wait is counted as the
 * writer's system time: a process's CPU per GiB then depends on how much memory the machine held
 * a moment before, not only on its own work. Null fields: the feature is absent.
 */
export interface MemoryReclaim {
  /** `page_reporting_order` when free page reporting is loaded. */
  freePageReportingOrder: number | null;
  /** DAMON schemes that are running with the `pageout` action. */
  damonPageoutSchemes: number;
}

export function memoryReclaim(sys = '/sys'): MemoryReclaim {
  const order = readOr(join(sys, 'module/page_reporting/parameters/page_reporting_order'));
  let pageout = 0;
  const kdamonds = join(sys, 'kernel/mm/damon/admin/kdamonds');
  for (const k of listOr(kdamonds)) {
    if (readOr(join(kdamonds, k, 'state')) !== 'on') continue;
    for (const c of listOr(join(kdamonds, k, 'contexts'))) {
      const schemes = join(kdamonds, k, 'contexts', c, 'schemes');
      for (const s of listOr(schemes)) if (readOr(join(schemes, s, 'action')) === 'pageout') pageout += 1;
    }
  }
  return { freePageReportingOrder: /^\d+$/.test(order) ? Number(order) : null, damonPageoutSchemes: pageout };
}

/**
 * KiB the guest has reported free to its host so far, where the kernel counts it
 * (`page_reporting/parameters/reported_kib`); undefined elsewhere.
 */
export function reportedKiB(sys = '/sys'): number | undefined {
  const text = readOr(join(sys, 'module/page_reporting/parameters/reported_kib'));
  return /^\d+$/.test(text) ? Number(text) : undefined;
}

/** One line for a benchmark's output, or undefined when the machine reclaims nothing. */
export function describeMemoryReclaim(m: MemoryReclaim): string | undefined {
  const parts: string[] = [];
  if (m.freePageReportingOrder !== null) parts.push(`reports free blocks of ${4 << m.freePageReportingOrder} KiB (4 KiB pages) to its host (free page reporting)`);
  if (m.damonPageoutSchemes > 0) parts.push('pages out memory left cold (DAMON)');
  if (parts.length === 0) return undefined;
  return `this machine ${parts.join(' and ')}: a page the host dropped costs its next writer system time, so kernel CPU figures follow the machine's recent memory use`;
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

function listOr(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => /^\d+$/.test(n));
  } catch {
    return [];
  }
}
