import { connect } from 'node:net';
import { encodeDownloadPieceFrame } from '../protocol/vortex/vortex-frames.js';

/**
 * A Vortex client that asks for piece `number` of `taskId` and reads nothing until `readAfterMs`
 * (reading only after a cut: a client still reading would be served, not cut). Resolves with how
 * long after the request the server closed the connection, or undefined if it did not within 10 s.
 */
export async function stalledReader(addr: { host: string; port: number }, taskId: string, number: number, readAfterMs = 2_000): Promise<number | undefined> {
  const hog = connect(addr.port, addr.host);
  try {
    await new Promise<void>((resolve, reject) => { hog.once('connect', () => resolve()); hog.once('error', reject); });
    hog.pause();
    hog.write(encodeDownloadPieceFrame(1, { taskId, number }));
    const started = Date.now();
    return await new Promise<number | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), 10_000);
      hog.once('close', () => { clearTimeout(timer); resolve(Date.now() - started); });
      hog.on('error', () => undefined);
      setTimeout(() => hog.resume(), readAfterMs);
    });
  } finally {
    hog.destroy();
  }
}
