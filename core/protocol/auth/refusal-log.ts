import type { Logger } from '../../logging/logger.js';

/** Refusals logged per minute; more are counted and summed up in the next line. */
const PER_MINUTE = 20;

/**
 * Logs who was refused by a server's credential check (remote address, what it asked, why),
 * at most PER_MINUTE lines a minute so that a flood of refused requests cannot flood the log.
 */
export class RefusalLog {
  private windowStart = 0;
  private logged = 0;
  private suppressed = 0;

  constructor(private readonly logger: Logger, private readonly server: string) {}

  refused(remote: string, request: string, reason: string): void {
    const now = Date.now();
    if (now - this.windowStart >= 60_000) {
      if (this.suppressed) this.logger.warn({ server: this.server, count: this.suppressed }, 'more requests were refused for a missing or wrong cluster credential');
      this.windowStart = now;
      this.logged = 0;
      this.suppressed = 0;
    }
    if (this.logged >= PER_MINUTE) {
      this.suppressed += 1;
      return;
    }
    this.logged += 1;
    this.logger.warn({ server: this.server, remote, request, reason }, 'request refused: missing or wrong cluster credential');
  }
}
