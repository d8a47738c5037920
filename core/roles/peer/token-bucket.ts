import { Transform, type TransformCallback } from 'node:stream';

/**
 * A byte-rate limiter shared by all transfers of one direction. `rate` is bytes per second;
 * 0 means unlimited. Bursts are bounded to one second of traffic.
 */
export class TokenBucket {
  private tokens: number;
  private last = Date.now();

  constructor(private current: number) {
    this.tokens = current;
  }

  /** Bytes per second; 0 is unlimited. */
  get rate(): number {
    return this.current;
  }

  /** Changes the rate for the bytes that follow (dynamic config). */
  setRate(rate: number): void {
    this.current = Math.max(0, rate);
    this.tokens = Math.min(this.tokens, this.current);
  }

  get unlimited(): boolean {
    return this.rate <= 0;
  }

  /** Milliseconds to wait before `bytes` may pass; the bytes are taken from the bucket now. */
  take(bytes: number): number {
    if (this.unlimited) return 0;
    const now = Date.now();
    this.tokens = Math.min(this.rate, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    this.tokens -= bytes;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.rate) * 1000);
  }

  /** A pass-through stream that paces its bytes through this bucket (a plain pass-through when unlimited). */
  throttle(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) => {
        const wait = this.take(chunk.length);
        if (wait === 0) cb(null, chunk);
        else setTimeout(() => cb(null, chunk), wait);
      },
    });
  }
}
