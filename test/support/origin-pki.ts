import { join } from 'node:path';
import { runCli } from './run-cli.js';

export interface OriginPki {
  /** The test CA's certificate (PEM). */
  ca: string;
  /** A certificate for an origin on 127.0.0.1. */
  origin: { cert: string; key: string };
  /** A client certificate of the same CA. */
  client: { cert: string; key: string };
}

/** A test CA under `dir`, a certificate for an origin on 127.0.0.1 and a client certificate, made with `d7y cert`. */
export async function originPki(dir: string): Promise<OriginPki> {
  for (const args of [['init', '--dir', dir], ['issue', '--dir', dir, '--name', 'origin', '--ip', '127.0.0.1'], ['issue', '--dir', dir, '--name', 'client']]) {
    const r = await runCli(['cert', ...args]);
    if (r.code !== 0) throw new Error(r.stderr);
  }
  return { ca: join(dir, 'ca.crt'), origin: { cert: join(dir, 'origin.crt'), key: join(dir, 'origin.key') }, client: { cert: join(dir, 'client.crt'), key: join(dir, 'client.key') } };
}
