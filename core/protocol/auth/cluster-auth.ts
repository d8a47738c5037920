import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ReplayGuard } from './replay-guard.js';

/** What a caller proved: membership of the cluster, or (schedulers and seed peers) the seed credential too. */
export type AuthLevel = 'member' | 'seed';

/**
 * Why a proof was refused: `missing` (none sent), `wrong` (bad MAC or another cluster), `stale` (too
 * old or from the future), `replayed` (this server accepted the very same proof before).
 */
export type AuthFailure = 'missing' | 'malformed' | 'wrong' | 'stale' | 'replayed';

/** gRPC metadata and HTTP header carrying the membership proof. */
export const CLUSTER_AUTH_HEADER = 'x-d7y-cluster-auth';
/** gRPC metadata carrying the seed-credential proof (schedulers and seed peers). */
export const SEED_AUTH_HEADER = 'x-d7y-seed-auth';
/** gRPC metadata carrying the caller's host identity (a scheduler binds a host record to it). */
export const HOST_IDENTITY_HEADER = 'x-d7y-host-identity';
/**
 * gRPC metadata carrying a control proof: a scheduler's DownloadTask, StatTask or DeleteTask on a
 * normal peer, keyed by that peer's control key (which only the peer and the schedulers it
 * announced itself to can derive from its host identity).
 */
export const CONTROL_AUTH_HEADER = 'x-d7y-control-auth';

/** The key of control calls to the host whose identity this is (`<peer dir>/host-identity`). */
export function controlKeyOf(hostIdentity: string): Buffer {
  return mac(Buffer.from(hostIdentity, 'utf8'), 'd7y-control-key');
}

/** How far a proof's clock may be from ours. */
const MAX_SKEW_MS = 5 * 60_000;
/** Bytes of a Vortex challenge nonce and of its answer (an HMAC-SHA256). */
export const VORTEX_NONCE_LENGTH = 32;
export const VORTEX_PROOF_LENGTH = 32;

function mac(key: Buffer, ...parts: string[]): Buffer {
  return createHmac('sha256', key).update(parts.join('\n')).digest();
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The cluster credential of one role: HMAC keys derived from the cluster secret (every member)
 * and, for schedulers and seed peers, the seed secret. The secrets never cross the wire: a request
 * carries `v1.<ms>.<nonce>.<hmac>` proofs bound to its method or path and to the time, and a Vortex
 * connection answers the server's random challenge. Comparisons are constant-time, and a server
 * accepts each proof once.
 */
export class ClusterAuth {
  private readonly memberKey: Buffer;
  private readonly seedKey: Buffer | undefined;
  /** Each proof is accepted once: one copied off the wire serves for nothing. */
  private readonly replays = new ReplayGuard(2 * MAX_SKEW_MS);

  /** `seedSecret` only for schedulers and seed peers; a normal peer never holds it. */
  constructor(clusterSecret: string, seedSecret?: string, private readonly now: () => number = Date.now) {
    this.memberKey = mac(Buffer.from(clusterSecret, 'utf8'), 'd7y-member-key');
    this.seedKey = seedSecret === undefined ? undefined : mac(Buffer.from(seedSecret, 'utf8'), 'd7y-seed-key');
  }

  /** True when this role holds the seed credential (and so can both present and check it). */
  get holdsSeed(): boolean {
    return this.seedKey !== undefined;
  }

  /** A membership proof for one request (`scope`: the gRPC method path, or `GET /pieces/...`). */
  memberProof(scope: string): string {
    return this.proof(this.memberKey, 'member', scope);
  }

  /** A seed-credential proof for one request, or undefined for a role without it. */
  seedProof(scope: string): string | undefined {
    return this.seedKey && this.proof(this.seedKey, 'seed', scope);
  }

  /** Checks a membership proof; undefined when it holds. */
  checkMember(token: string | undefined, scope: string): AuthFailure | undefined {
    return this.check(this.memberKey, 'member', token, scope);
  }

  /** Checks a seed-credential proof (only a role holding the seed secret can); undefined when it holds. */
  checkSeed(token: string | undefined, scope: string): AuthFailure | undefined {
    return this.seedKey ? this.check(this.seedKey, 'seed', token, scope) : 'wrong';
  }

  /** A control proof for one call to the host whose control key this is. */
  controlProof(controlKey: Buffer, scope: string): string {
    return this.proof(controlKey, 'control', scope);
  }

  /** Checks a control proof against this host's own control key; undefined when it holds. */
  checkControl(controlKey: Buffer, token: string | undefined, scope: string): AuthFailure | undefined {
    return this.check(controlKey, 'control', token, scope);
  }

  /** The client's answer to a Vortex server's challenge. */
  vortexProof(nonce: Buffer): Buffer {
    return mac(this.memberKey, 'd7y-vortex-v1', nonce.toString('hex'));
  }

  /** True when `proof` answers `nonce` with this cluster's key. */
  checkVortex(nonce: Buffer, proof: Buffer): boolean {
    return sameBytes(this.vortexProof(nonce), proof);
  }

  private proof(key: Buffer, kind: string, scope: string): string {
    const at = String(this.now());
    const nonce = randomBytes(9).toString('base64url');
    return `v1.${at}.${nonce}.${mac(key, kind, at, nonce, scope).toString('base64url')}`;
  }

  private check(key: Buffer, kind: string, token: string | undefined, scope: string): AuthFailure | undefined {
    if (!token) return 'missing';
    const parts = token.split('.');
    if (parts.length !== 4 || parts[0] !== 'v1' || !/^\d{1,16}$/.test(parts[1]!)) return 'malformed';
    const [, at, nonce, sent] = parts as [string, string, string, string];
    if (!sameBytes(mac(key, kind, at, nonce, scope), Buffer.from(sent, 'base64url'))) return 'wrong';
    const now = this.now();
    if (Math.abs(now - Number(at)) > MAX_SKEW_MS) return 'stale';
    if (!this.replays.accept(`${kind}.${at}.${nonce}`, Number(at), now)) return 'replayed';
    return undefined;
  }
}
