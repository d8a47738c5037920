import type { YumPackage } from './yum-metadata.js';

/** rpm's version comparison (rpmvercmp): alternating numeric and alphabetic segments, `~` sorts first. */
export function rpmVersionCompare(a: string, b: string): number {
  if (a === b) return 0;
  const seg = /~|\^|[0-9]+|[a-zA-Z]+/g;
  const sa = a.match(seg) ?? [];
  const sb = b.match(seg) ?? [];
  for (let i = 0; i < Math.max(sa.length, sb.length); i++) {
    const x = sa[i];
    const y = sb[i];
    if (x === '~' || y === '~') { if (x !== y) return x === '~' ? -1 : 1; continue; }
    if (x === undefined || y === undefined) return x === undefined ? -1 : 1;
    const xn = /^\d/.test(x);
    const yn = /^\d/.test(y);
    if (xn !== yn) return xn ? 1 : -1;
    const c = xn ? compareNumeric(x, y) : x < y ? -1 : x > y ? 1 : 0;
    if (c !== 0) return c;
  }
  return 0;
}

function compareNumeric(x: string, y: string): number {
  const a = x.replace(/^0+/, '');
  const b = y.replace(/^0+/, '');
  return a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;
}

function compareEvr(a: YumPackage, b: YumPackage): number {
  return (Number(a.epoch) - Number(b.epoch)) || rpmVersionCompare(a.version, b.version) || rpmVersionCompare(a.release, b.release);
}

/**
 * The packages `spec` names: `name`, `name-version`, `name-version-release`, each optionally with
 * `.arch`, or `name-[epoch:]version-release.arch`. Of several, the highest version wins, and among
 * those the `preferredArches` order (the host's, then noarch) decides.
 */
export function matchPackage(packages: readonly YumPackage[], spec: string, preferredArches: readonly string[]): YumPackage | undefined {
  const hits = packages.filter((p) => {
    const forms = [p.name, `${p.name}-${p.version}`, `${p.name}-${p.version}-${p.release}`, `${p.name}-${p.epoch}:${p.version}-${p.release}`];
    return forms.includes(spec) || forms.some((f) => `${f}.${p.arch}` === spec);
  });
  if (hits.length === 0) return undefined;
  const rank = (p: YumPackage) => { const i = preferredArches.indexOf(p.arch); return i < 0 ? preferredArches.length : i; };
  return [...hits].sort((a, b) => compareEvr(b, a) || rank(a) - rank(b))[0];
}

/** The rpm architecture names this host runs, best first. */
export function hostArches(): string[] {
  const map: Record<string, string[]> = { x64: ['x86_64'], arm64: ['aarch64'], arm: ['armv7hl'], ia32: ['i686'], ppc64: ['ppc64le'], s390x: ['s390x'], riscv64: ['riscv64'] };
  return [...(map[process.arch] ?? [process.arch]), 'noarch'];
}
