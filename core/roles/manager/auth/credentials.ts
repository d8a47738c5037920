import { createHash, createHmac, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number, options: { N: number; r: number; p: number }) => Promise<Buffer>;
const SCRYPT = { N: 16384, r: 8, p: 1 };

/** Hashes a password with scrypt and a random salt: `scrypt$N$r$p$salt$hash` (base64url). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(password, salt, 32, SCRYPT);
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

/** True when `password` matches a hash from hashPassword (constant-time comparison). */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [kind, n, r, p, salt, hash] = stored.split('$');
  if (kind !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64url'), expected.length, { N: Number(n), r: Number(r), p: Number(p) });
  return timingSafeEqual(expected, actual);
}

/** A fresh personal access token (`d7y_` + 32 random bytes) and what is stored of it. */
export function newAccessToken(): { token: string; hash: string; prefix: string } {
  const token = `d7y_${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashAccessToken(token), prefix: token.slice(0, 10) };
}

/** sha256 hex of a high-entropy token: enough for lookup, useless to whoever reads the table. */
export function hashAccessToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A random password for the generated root user. */
export function newPassword(): string {
  return randomBytes(18).toString('base64url');
}

export interface SessionClaims {
  /** User id. */
  sub: string;
  /** Session id: the `sessions` row that keeps the token valid until sign-out or a password change. */
  sid: string;
  /** Expiry, ms since the epoch. */
  exp: number;
}

/**
 * Signs and checks console session tokens (`d7ys.<payload>.<hmac-sha256>`) with a shared secret.
 * With `load`, refresh() re-reads the secret, so a rotation elsewhere reaches this signer.
 */
export class SessionSigner {
  constructor(private secret: Buffer, private readonly load?: () => Promise<Buffer>) {}

  /** Re-reads the secret (when built with `load`): tokens signed with a previous one are refused from then on. */
  async refresh(): Promise<void> {
    if (this.load) this.secret = await this.load();
  }

  sign(claims: SessionClaims): string {
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return `d7ys.${payload}.${this.mac(payload)}`;
  }

  /** The claims of a valid, unexpired token; undefined for anything else. */
  verify(token: string, now = Date.now()): SessionClaims | undefined {
    const [kind, payload, mac] = token.split('.');
    if (kind !== 'd7ys' || !payload || !mac) return undefined;
    const expected = Buffer.from(this.mac(payload));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    try {
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as SessionClaims;
      return typeof claims.sub === 'string' && typeof claims.sid === 'string' && typeof claims.exp === 'number' && claims.exp > now ? claims : undefined;
    } catch {
      return undefined;
    }
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.secret).update(payload).digest('base64url');
  }
}
