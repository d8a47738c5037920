import { connect } from 'node:net';

/** Whether a process accepts connections on the unix socket at `path` (a daemon's local API). */
export function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}
