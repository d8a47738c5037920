/**
 * Runs `fn` over `items` with at most `limit` calls at once. The first rejection stops new calls
 * and, once the running ones settled, rejects with it; `signal` stops new calls too.
 */
export async function runBounded<T>(items: Iterable<T>, limit: number, fn: (item: T) => Promise<void>, signal?: AbortSignal): Promise<void> {
  const iterator = items[Symbol.iterator]();
  let failure: { err: unknown } | undefined;
  const worker = async (): Promise<void> => {
    for (;;) {
      if (failure || signal?.aborted) return;
      const next = iterator.next();
      if (next.done) return;
      try {
        await fn(next.value);
      } catch (err) {
        failure ??= { err };
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, limit) }, () => worker()));
  if (failure) throw failure.err;
  if (signal?.aborted) throw signal.reason;
}
