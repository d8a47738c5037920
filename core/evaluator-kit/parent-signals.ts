/** Piece-cost samples after which the 3σ rule replaces the 20× rule. */
export const NORMAL_DISTRIBUTION_SAMPLES = 2000;
/** With fewer samples, a last piece cost above this multiple of the mean of the earlier ones is bad. */
export const BAD_COST_MULTIPLE = 20;
const MAX_LOCATION_ELEMENTS = 5;

/**
 * Dragonfly's bad-parent rule on a parent's piece costs (oldest first): with fewer than 2,000
 * samples the last cost is bad above 20× the mean of the earlier ones; from 2,000 samples on, above
 * mean + 3σ of the earlier ones. Fewer than two samples are never bad. Pure.
 */
export function isBadParentByCosts(costs: readonly number[]): boolean {
  const n = costs.length;
  if (n < 2) return false;
  const last = costs[n - 1]!;
  let sum = 0;
  for (let i = 0; i < n - 1; i++) sum += costs[i]!;
  const mean = sum / (n - 1);
  if (n < NORMAL_DISTRIBUTION_SAMPLES) return last > BAD_COST_MULTIPLE * mean;
  let sq = 0;
  for (let i = 0; i < n - 1; i++) sq += (costs[i]! - mean) ** 2;
  return last > mean + 3 * Math.sqrt(sq / (n - 1));
}

/** 1 when both IDCs are set and equal (case-insensitive), else 0. */
export function idcAffinity(a?: string, b?: string): number {
  return a && b && a.toLowerCase() === b.toLowerCase() ? 1 : 0;
}

/** Leading `|`-separated elements in common (at most 5), over 5; identical strings score 1. */
export function locationAffinity(a?: string, b?: string): number {
  if (!a || !b) return 0;
  if (a === b) return 1;
  const x = a.split('|');
  const y = b.split('|');
  let n = 0;
  while (n < MAX_LOCATION_ELEMENTS && n < x.length && n < y.length && x[n] === y[n]) n++;
  return n / MAX_LOCATION_ELEMENTS;
}

/** Orders by score, highest first, ties by peer id: the deterministic order every evaluator uses. */
export function byScoreThenPeerId(a: { score: number; peerId: string }, b: { score: number; peerId: string }): number {
  return b.score - a.score || (a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0);
}
