import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { D7yError } from '../../../errors/d7y-error.js';

/**
 * Preheat jobs allowed per scheduler cluster per second. With a Redis URL the count is shared by
 * every manager using that Redis (atomic Lua increment), otherwise it is per process.
 */
export class PreheatLimiter {
  private readonly limiter: RateLimiterAbstract;
  private readonly redis?: Redis;

  constructor(private readonly perSecond: number, redisUrl?: string) {
    if (redisUrl) {
      this.redis = new Redis(redisUrl, { enableOfflineQueue: true, maxRetriesPerRequest: 2, lazyConnect: true, connectTimeout: 5_000 });
      this.redis.on('error', () => undefined);
      this.limiter = new RateLimiterRedis({ storeClient: this.redis, points: perSecond, duration: 1, keyPrefix: 'd7y:preheat' });
    } else {
      this.limiter = new RateLimiterMemory({ points: perSecond, duration: 1, keyPrefix: 'd7y:preheat' });
    }
  }

  get shared(): boolean {
    return this.redis !== undefined;
  }

  async start(): Promise<void> {
    if (!this.redis) return;
    try {
      await this.redis.connect();
      await this.redis.ping();
    } catch (err) {
      this.redis.disconnect();
      throw new D7yError('D7Y_CONFIG_INVALID', `manager cannot reach Redis at manager.redis.url: ${(err as Error).message}`, {
        cause: err, fix: 'start Redis or correct manager.redis.url (remove it to limit per manager)',
      });
    }
  }

  /** Takes one preheat for the cluster; D7Y_RATE_LIMITED (429) when its second is used up. */
  async take(clusterId: string): Promise<void> {
    try {
      await this.limiter.consume(clusterId, 1);
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        throw new D7yError('D7Y_RATE_LIMITED', `preheat rate limit of scheduler cluster ${clusterId} reached (${this.perSecond}/s)`, {
          fix: `retry in ${Math.max(1, Math.ceil(err.msBeforeNext / 1000))} s`, details: { retryAfterMs: err.msBeforeNext },
        });
      }
      throw new D7yError('D7Y_INTERNAL', `preheat rate limiter failed: ${(err as Error).message}`, { cause: err, fix: 'check that Redis is up' });
    }
  }

  async stop(): Promise<void> {
    if (this.redis) await this.redis.quit().catch(() => this.redis?.disconnect());
  }
}
