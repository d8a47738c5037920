import type { Startable } from '../contracts/startable.js';

/** Starts resources in order and stops the started ones in reverse order, even after a failure. */
export class Lifecycle implements Startable {
  private readonly resources: Startable[] = [];
  private started: Startable[] = [];

  add(resource: Startable): void {
    this.resources.push(resource);
  }

  async start(): Promise<void> {
    for (const r of this.resources) {
      try {
        await r.start();
      } catch (err) {
        await this.stop();
        throw err;
      }
      this.started.push(r);
    }
  }

  async stop(): Promise<void> {
    const errors: unknown[] = [];
    for (const r of this.started.reverse()) {
      try {
        await r.stop();
      } catch (err) {
        errors.push(err);
      }
    }
    this.started = [];
    if (errors.length) throw new AggregateError(errors, 'some resources failed to stop');
  }
}
