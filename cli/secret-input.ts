import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { D7yError } from '../core/errors/d7y-error.js';

const MAX_STDIN_BYTES = 64 * 1024;

/** True when secrets should be asked for on the terminal rather than read from stdin. */
export function canPrompt(fromStdin: boolean | undefined): boolean {
  return !fromStdin && Boolean(process.stdin.isTTY);
}

/** Asks on the terminal (prompt on stderr); with `hidden`, nothing typed is echoed. Ctrl-C cancels. */
export function ask(prompt: string, hidden = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const output = hidden ? new Writable({ write: (_chunk, _enc, done) => done() }) : process.stderr;
    process.stderr.write(prompt);
    const rl = createInterface({ input: process.stdin, output, terminal: true });
    rl.once('line', (line) => {
      rl.close();
      if (hidden) process.stderr.write('\n');
      resolve(line);
    });
    rl.once('SIGINT', () => {
      rl.close();
      process.stderr.write('\n');
      reject(new D7yError('D7Y_ABORTED', 'cancelled', { fix: 'run the command again' }));
    });
  });
}

/** The lines of stdin (without line ends), read to its end; at most 64 KiB. */
export async function stdinLines(): Promise<string[]> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_STDIN_BYTES) throw new D7yError('D7Y_INVALID_ARGUMENT', 'stdin holds more than 64 KiB', { fix: 'pipe only the password(s), one a line' });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/);
}
