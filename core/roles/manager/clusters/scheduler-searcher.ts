import { BlockList, isIP } from 'node:net';
import { matchesHostname } from './hostname-pattern.js';

/** Where a scheduler cluster serves: peers matching more of it rank it higher. */
export interface ClusterScopes {
  /** `|`-separated IDCs. */
  idc?: string;
  /** `|`-separated, most general first: `country|region|zone`. */
  location?: string;
  cidrs?: string[];
  /** Regular expressions (RE2 syntax, matched in linear time) searched for in the peer's hostname. */
  hostnames?: string[];
}

/** The peer asking for its schedulers. */
export interface PeerProfile {
  ip?: string;
  hostname?: string;
  idc?: string;
  location?: string;
}

/** Dragonfly's searcher weights. */
export const SEARCH_WEIGHTS = { cidr: 0.3, hostname: 0.3, idc: 0.25, location: 0.14, clusterType: 0.01 } as const;
const MAX_LOCATION_ELEMENTS = 5;

function cidrAffinity(ip: string | undefined, cidrs: string[] | undefined): number {
  const family = ip ? isIP(ip) : 0;
  if (!ip || !family || !cidrs?.length) return 0;
  for (const c of cidrs) {
    const [net, bits] = c.split('/');
    const netFamily = isIP(net ?? '');
    if (netFamily !== family) continue;
    const list = new BlockList();
    const type = family === 6 ? 'ipv6' : 'ipv4';
    list.addSubnet(net!, Number(bits ?? (family === 6 ? 128 : 32)), type);
    if (list.check(ip, type)) return 1;
  }
  return 0;
}

function hostnameAffinity(hostname: string | undefined, patterns: string[] | undefined): number {
  if (!hostname || !patterns?.length) return 0;
  return patterns.some((p) => matchesHostname(p, hostname)) ? 1 : 0;
}

function idcAffinity(idc: string | undefined, scope: string | undefined): number {
  if (!idc || !scope) return 0;
  const want = idc.toLowerCase();
  return scope.split('|').some((x) => x.trim().toLowerCase() === want) ? 1 : 0;
}

function locationAffinity(location: string | undefined, scope: string | undefined): number {
  if (!location || !scope) return 0;
  const a = location.toLowerCase().split('|');
  const b = scope.toLowerCase().split('|');
  let n = 0;
  while (n < Math.min(a.length, b.length, MAX_LOCATION_ELEMENTS) && a[n] === b[n]) n++;
  return n / MAX_LOCATION_ELEMENTS;
}

/**
 * How well a cluster's scopes match a peer, in [0, 1]: 0.3·CIDR + 0.3·hostname + 0.25·IDC +
 * 0.14·location (element-wise prefix of `|`-separated parts, 5 at most) + 0.01·default cluster.
 */
export function clusterScore(peer: PeerProfile, scopes: ClusterScopes, isDefault: boolean): number {
  const w = SEARCH_WEIGHTS;
  return w.cidr * cidrAffinity(peer.ip, scopes.cidrs) + w.hostname * hostnameAffinity(peer.hostname, scopes.hostnames)
    + w.idc * idcAffinity(peer.idc, scopes.idc) + w.location * locationAffinity(peer.location, scopes.location)
    + w.clusterType * (isDefault ? 1 : 0);
}

/** Clusters ranked best first (ties: by name), each with its score. */
export function rankClusters<C extends { name: string; scopes: ClusterScopes; isDefault: boolean }>(peer: PeerProfile, clusters: C[]): (C & { score: number })[] {
  return clusters.map((c) => ({ ...c, score: Math.round(clusterScore(peer, c.scopes, c.isDefault) * 1e6) / 1e6 }))
    .sort((x, y) => y.score - x.score || x.name.localeCompare(y.name));
}
