import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { D7yError } from '../errors/d7y-error.js';
import { duration, unitObject } from './unit-schemas.js';

/** How a scheduler or peer reaches the manager (optional: without it, static config applies). */
export const ManagerLinkConfigSchema = unitObject({
  /** `http://host:port` of a manager (any replica). */
  url: z.string().regex(/^https?:\/\//, 'expected http(s)://host:port'),
  /** Personal access token with scopes `cluster` (and `job` for schedulers). */
  token: z.string().min(1).optional(),
  /** A file holding the token on one line (a mounted secret), instead of `token`. */
  tokenFile: z.string().min(1).optional(),
  /**
   * A PEM file of the CA that signed an `https://` manager's certificate (the `ca.crt` of `d7y cert
   * init`), trusted on this link besides the system's CAs and `security.tls.ca`.
   */
  ca: z.string().min(1).optional(),
  /** Scheduler cluster (schedulers) or seed-peer cluster (seed peers) to register in; created when new. */
  cluster: z.string().default('default'),
  /** Keepalive (and dynamic config refresh) period. */
  keepaliveInterval: duration({ min: 100, legacy: 'keepaliveIntervalMs', default: 5_000 }),
  /** How often a scheduler asks for its cluster's jobs. */
  jobPollInterval: duration({ min: 100, legacy: 'jobPollIntervalMs', default: 1_000 }),
  /**
   * How often a scheduler reports its persistent-cache tasks to the manager (sent whole when they
   * changed, else a short call) and learns the deletes asked there.
   */
  persistentCacheReportInterval: duration({ min: 100, legacyNumber: true }).default(2_000),
});

export type ManagerLinkConfig = z.infer<typeof ManagerLinkConfigSchema>;

interface TokenSettings { token?: string; tokenFile?: string }

/** For `.refine` on a link: token and tokenFile are one setting. */
export const oneTokenSetting = {
  check: (l: TokenSettings) => !(l.token && l.tokenFile),
  message: { message: 'set token or tokenFile, not both', path: ['tokenFile'] },
};

/** For `.refine` on a scheduler's link: it needs a token. */
export const someTokenSetting = {
  check: (l: TokenSettings) => Boolean(l.token || l.tokenFile),
  message: { message: 'set token (a personal access token with scopes cluster and job) or tokenFile (a file holding one)', path: ['token'] },
};

/** The link's token: `token`, else the first line of `tokenFile` (read at each call, so a rotated secret is picked up at the next start). */
export async function managerToken(link: TokenSettings): Promise<string | undefined> {
  if (link.token || !link.tokenFile) return link.token;
  let text: string;
  try {
    text = await readFile(link.tokenFile, 'utf8');
  } catch (err) {
    throw new D7yError('D7Y_CONFIG_INVALID', `cannot read the manager token file ${link.tokenFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      cause: err, fix: `make ${link.tokenFile} a file readable by the user running d7y, holding the token on one line (or set manager.token)`,
    });
  }
  const token = text.split('\n')[0]!.trim();
  if (!token) {
    throw new D7yError('D7Y_CONFIG_INVALID', `the manager token file ${link.tokenFile} is empty`, {
      fix: 'write the personal access token (d7y token create … --scope cluster,job) on its first line',
    });
  }
  return token;
}
