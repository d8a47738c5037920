import type { Logger } from '../../logging/logger.js';
import type { PushedCommandView } from '../../protocol/manager/manager-client.js';

/** How a node answers one command. */
export interface CommandAck {
  state: 'succeeded' | 'failed';
  result?: Record<string, unknown>;
  error?: string;
}

export interface CommandChannelOptions {
  /** Ends the channel (the node stops). */
  signal: AbortSignal;
  /** One held wait for this node's commands (throws while the node is not registered). */
  wait: (signal: AbortSignal) => Promise<{ commands: PushedCommandView[] }>;
  /** Carries out one command: its result, or a throw for a failure. */
  run: (c: PushedCommandView, signal: AbortSignal) => Promise<Record<string, unknown>>;
  ack: (id: string, ack: CommandAck) => Promise<unknown>;
  /** Told of a refused or failed wait (retried a second later). */
  onError: (err: unknown) => void;
  logger: Logger;
  /** Longest a command may run. */
  timeoutMs: number;
}

/**
 * A node's end of the manager's command channel (schedulers and peers alike): wait, carry out each
 * command, acknowledge it with its result (or its error and fix), again, until `signal` aborts.
 * Resolves once stopped; never rejects.
 */
export async function holdCommandChannel(o: CommandChannelOptions): Promise<void> {
  while (!o.signal.aborted) {
    try {
      const { commands } = await o.wait(o.signal);
      for (const c of commands) await execute(o, c);
    } catch (err) {
      if (o.signal.aborted) return;
      o.onError(err);
      await new Promise((r) => setTimeout(r, 1000).unref());
    }
  }
}

async function execute(o: CommandChannelOptions, c: PushedCommandView): Promise<void> {
  o.logger.info({ commandId: c.id, type: c.type }, 'running manager command');
  const signal = AbortSignal.any([o.signal, AbortSignal.timeout(o.timeoutMs)]);
  let ack: CommandAck;
  try {
    ack = { state: 'succeeded', result: await o.run(c, signal) };
  } catch (err) {
    const e = err as Error & { fix?: string };
    ack = { state: 'failed', error: `${e.message}${e.fix ? ` (${e.fix})` : ''}`.slice(0, 4000) };
  }
  await o.ack(c.id, ack);
}
