import type { Logger } from '../../core/index.js';

/**
 * Passes a piece write's progress to its `onWritten` callback and records it in `filling.written`,
 * until `stop()` (the write ended): a callback that throws is logged, never fails the write.
 */
export function writtenReporter(filling: { written: number }, onWritten: ((bytes: number) => void) | undefined,
  logger: Logger, where: { taskId: string; piece: number }): { report(bytes: number): void; stop(): void } {
  let live = true;
  return {
    report(bytes) {
      if (!live) return;
      filling.written = bytes;
      try {
        onWritten?.(bytes);
      } catch (err) {
        logger.warn({ err, ...where }, 'an onWritten callback of a piece write threw');
      }
    },
    stop() {
      live = false;
    },
  };
}
