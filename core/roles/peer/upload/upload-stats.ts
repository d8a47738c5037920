/**
 * Upload load of this host as announced to the scheduler: bytes sent in the last 60 s and the
 * uploads running now. Kept in one-second buckets, so memory is constant.
 */
export class UploadStats {
  private readonly buckets = new Float64Array(60);
  private lastSecond = Math.floor(Date.now() / 1000);
  private running = 0;
  /** Bytes sent since start. */
  sentBytes = 0;
  successCount = 0;
  failedCount = 0;
  /** Told of every upload that ends, with the bytes it sent (once per piece). */
  onEnd?: (ok: boolean, bytes: number) => void;

  /** Counts `bytes` sent now. */
  record(bytes: number): void {
    this.advance();
    this.buckets[this.lastSecond % 60] += bytes;
    this.sentBytes += bytes;
  }

  begin(): void {
    this.running += 1;
  }

  end(ok: boolean, bytes = 0): void {
    this.running = Math.max(0, this.running - 1);
    if (ok) this.successCount += 1;
    else this.failedCount += 1;
    this.onEnd?.(ok, bytes);
  }

  get concurrent(): number {
    return this.running;
  }

  /** Average bytes per second over the last 60 s. */
  txBps60s(): number {
    this.advance();
    let sum = 0;
    for (const b of this.buckets) sum += b;
    return Math.round(sum / 60);
  }

  private advance(): void {
    const now = Math.floor(Date.now() / 1000);
    const gap = Math.min(60, now - this.lastSecond);
    for (let i = 1; i <= gap; i += 1) this.buckets[(this.lastSecond + i) % 60] = 0;
    this.lastSecond = Math.max(this.lastSecond, now);
  }
}
