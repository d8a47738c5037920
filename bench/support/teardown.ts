/**
 * A stack of cleanup steps run in reverse order, once, on normal exit, on error and on
 * SIGINT/SIGTERM/SIGHUP. Each step is bounded by `stepTimeoutMs`; a failing step does not stop
 * the others.
 */
export class Teardown {
  private readonly steps: { name: string; fn: () => Promise<void> | void }[] = [];
  private running?: Promise<void>;
  private readonly onSignal = (sig: NodeJS.Signals): void => {
    process.stderr.write(`\nbench: ${sig}, tearing down\n`);
    void this.run().finally(() => process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGHUP' ? 1 : 15)));
  };

  constructor(private readonly stepTimeoutMs = 15_000) {
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, this.onSignal);
  }

  /** Registers a cleanup step; later steps run first. */
  add(name: string, fn: () => Promise<void> | void): void {
    this.steps.push({ name, fn });
  }

  /** Runs every registered step (newest first); safe to call more than once. */
  run(): Promise<void> {
    this.running ??= (async () => {
      while (this.steps.length > 0) {
        const step = this.steps.pop()!;
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            Promise.resolve().then(step.fn),
            new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('timed out')), this.stepTimeoutMs); }),
          ]);
        } catch (err) {
          process.stderr.write(`bench: teardown step "${step.name}" failed: ${(err as Error).message}\n`);
        } finally {
          clearTimeout(timer);
        }
      }
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, this.onSignal);
    })();
    return this.running;
  }
}
