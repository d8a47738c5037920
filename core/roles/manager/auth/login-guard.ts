import { randomBytes } from 'node:crypto';
import { RateLimiterMemory, type RateLimiterRes } from 'rate-limiter-flexible';
import { D7yError } from '../../../errors/d7y-error.js';
import { hashPassword, verifyPassword } from './credentials.js';

export interface LoginGuardOptions {
  /** Failed sign-ins allowed per user name within `windowMs`. */
  perUser: number;
  /** Failed sign-ins allowed per source address within `windowMs`. */
  perIp: number;
  /** The counting window, and how long a lockout lasts, ms. */
  windowMs: number;
}

/**
 * Guards password sign-ins: counts failures per user name and per source address, and refuses
 * with D7Y_RATE_LIMITED (429, `retryAfterMs`) once either count reaches its limit, until the window
 * passes, whatever the password. A user name unknown to the manager costs the same scrypt work as
 * a wrong password, so timing does not tell which names exist. Counts are per manager process.
 */
export class LoginGuard {
  private readonly users: RateLimiterMemory;
  private readonly ips: RateLimiterMemory;
  private readonly decoy: Promise<string>;

  constructor(private readonly o: LoginGuardOptions) {
    const duration = Math.max(1, Math.ceil(o.windowMs / 1000));
    this.users = new RateLimiterMemory({ points: o.perUser, duration, keyPrefix: 'd7y:login:user' });
    this.ips = new RateLimiterMemory({ points: o.perIp, duration, keyPrefix: 'd7y:login:ip' });
    this.decoy = hashPassword(randomBytes(16).toString('base64url'));
  }

  /**
   * Checks `password` against `storedHash` (undefined for an unknown user) for a sign-in of `name`
   * from `ip`. Resolves true on a match; false on a mismatch (counted); throws D7Y_RATE_LIMITED when
   * the user or the address is locked out (the password is then not checked).
   */
  async check(name: string, ip: string, password: string, storedHash: string | undefined): Promise<boolean> {
    const [user, addr] = await Promise.all([this.users.get(name), this.ips.get(ip)]);
    this.refuseWhenSpent(user, this.o.perUser, `too many failed sign-ins for user "${name}"`);
    this.refuseWhenSpent(addr, this.o.perIp, `too many failed sign-ins from ${ip}`);
    const ok = await verifyPassword(password, storedHash ?? await this.decoy) && storedHash !== undefined;
    if (ok) {
      await this.users.delete(name);
      return true;
    }
    await Promise.all([this.users.penalty(name, 1), this.ips.penalty(ip, 1)]);
    return false;
  }

  private refuseWhenSpent(res: RateLimiterRes | null, limit: number, what: string): void {
    if (!res || res.consumedPoints < limit) return;
    const retryAfterMs = Math.max(1000, res.msBeforeNext);
    throw new D7yError('D7Y_RATE_LIMITED', `${what}; sign-in is locked for ${Math.ceil(retryAfterMs / 1000)} s`, {
      fix: 'wait until the lockout ends (Retry-After), then sign in with the right password', details: { retryAfterMs },
    });
  }
}
