import { createHash } from 'node:crypto';

function point(key: string): number {
  return createHash('sha1').update(key).digest().readUInt32BE(0);
}

/**
 * A consistent-hash ring of string members (scheduler addresses, seed host ids). A key maps to
 * the same member while that member stays in the ring; removing a member moves only its keys.
 * Deterministic: the same members give the same answers in every process.
 */
export class HashRing {
  private readonly points: { at: number; member: string }[] = [];
  readonly members: readonly string[];

  /** `replicas` virtual points per member smooth the distribution. */
  constructor(members: Iterable<string>, replicas = 64) {
    this.members = [...new Set(members)].sort();
    for (const member of this.members) {
      for (let i = 0; i < replicas; i++) this.points.push({ at: point(`${member}#${i}`), member });
    }
    this.points.sort((a, b) => a.at - b.at || (a.member < b.member ? -1 : a.member > b.member ? 1 : 0));
  }

  get size(): number {
    return this.members.length;
  }

  /** The member owning `key`, or undefined for an empty ring. */
  get(key: string): string | undefined {
    return this.lookup(key, 1)[0];
  }

  /** Up to `n` distinct members in ring order from `key`'s position: the owner first, then fallbacks. */
  lookup(key: string, n = this.members.length): string[] {
    if (this.points.length === 0 || n <= 0) return [];
    const at = point(key);
    let lo = 0;
    let hi = this.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.points[mid]!.at < at) lo = mid + 1;
      else hi = mid;
    }
    const out: string[] = [];
    for (let i = 0; i < this.points.length && out.length < n; i++) {
      const member = this.points[(lo + i) % this.points.length]!.member;
      if (!out.includes(member)) out.push(member);
    }
    return out;
  }
}
