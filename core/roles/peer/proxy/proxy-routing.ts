import type { IncomingHttpHeaders } from 'node:http';
import type { ProxyRule } from '../../../config/proxy-config.js';
import { parseSize } from '../../../config/units.js';
import { D7yError } from '../../../errors/d7y-error.js';
import type { PeerDownloadRequest } from '../../../protocol/local-api/download-request.js';

/** What the proxy does with one request. */
export type ProxyRoute =
  | { use: 'direct' }
  | { use: 'p2p'; request: Pick<PeerDownloadRequest, 'tag' | 'application' | 'filteredQueryParams' | 'pieceLength'> };

/**
 * The proxy's routing: only GET goes P2P, when `X-Dragonfly-Use-P2P: true` says so or the URL
 * (without query and fragment) matches a `p2p` rule before any `direct` one. The `X-Dragonfly-Tag`,
 * `-Application`, `-Filtered-Query-Params` and `-Piece-Length` headers win over the rule's values.
 */
export class ProxyRouting {
  private readonly rules: { re: RegExp; rule: ProxyRule }[];

  constructor(rules: readonly ProxyRule[]) {
    this.rules = rules.map((rule) => ({ re: new RegExp(rule.regex), rule }));
  }

  /** Throws D7Y_INVALID_ARGUMENT for an `X-Dragonfly-*` header it cannot honour. */
  route(method: string | undefined, url: string, headers: IncomingHttpHeaders): ProxyRoute {
    if (method !== 'GET') return { use: 'direct' };
    const forced = one(headers['x-dragonfly-use-p2p'])?.trim().toLowerCase();
    const bare = url.split(/[?#]/, 1)[0]!;
    const rule = forced === 'true' ? undefined : this.rules.find((r) => r.re.test(bare))?.rule;
    if (forced !== 'true' && rule?.use !== 'p2p') return { use: 'direct' };
    const filtered = one(headers['x-dragonfly-filtered-query-params']);
    return {
      use: 'p2p',
      request: {
        tag: one(headers['x-dragonfly-tag']) ?? rule?.tag,
        application: one(headers['x-dragonfly-application']) ?? rule?.application,
        filteredQueryParams: filtered !== undefined ? filtered.split(',').map((s) => s.trim()).filter(Boolean) : rule?.filteredQueryParams,
        pieceLength: pieceLengthHeader(one(headers['x-dragonfly-piece-length'])),
      },
    };
  }
}

/** The first value of a header that may be repeated. */
export function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * `X-Dragonfly-Piece-Length`: a size in d7y's grammar (`4MiB`, bytes), or Dragonfly's lower-case
 * spelling of it (`4mib`, as its clients send).
 */
export function pieceLengthHeader(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const dragonfly = /^\s*(\d+)\s*([kmgt])ib\s*$/i.exec(v);
  try {
    return parseSize(dragonfly ? `${dragonfly[1]}${dragonfly[2]!.toUpperCase()}iB` : v.trim());
  } catch {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `X-Dragonfly-Piece-Length "${v}" is not a size`, {
      fix: 'send bytes or a size such as 4MiB, 16MiB (at least 4 MiB, at most 64 MiB)',
    });
  }
}
