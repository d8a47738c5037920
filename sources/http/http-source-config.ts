import { z } from 'zod';
import { duration } from '../../core/index.js';

const ms = (o: { min: number }) => duration({ ...o, legacyNumber: true });

/** Config of the `http` source plugin (plugins.json `config`); every field has a default. Durations take units ("10s"); a plain number is milliseconds. */
export const httpSourceConfigSchema = z.strictObject({
  /** Time to establish a TCP/TLS connection. */
  connectTimeout: ms({ min: 1 }).default(10_000),
  /** Time to wait for response headers once the request is sent. */
  headersTimeout: ms({ min: 1 }).default(30_000),
  /** Silence allowed between body chunks. */
  bodyTimeout: ms({ min: 1 }).default(60_000),
  /** Retries after 5xx, 429 and connection failures before the body starts. */
  retries: z.number().int().min(0).max(20).default(3),
  /** Base delay of the exponential backoff (full jitter). */
  retryDelay: ms({ min: 0 }).default(200),
  /** Cap of one backoff delay. */
  maxRetryDelay: ms({ min: 0 }).default(5_000),
  /** Time one stat/download may spend getting a response, retries included. */
  deadline: ms({ min: 1 }).default(120_000),
  maxRedirections: z.number().int().min(0).max(50).default(5),
  maxConnectionsPerOrigin: z.number().int().positive().max(1024).default(16),
  /** Accept any TLS certificate from every origin (test origins only; prefer caFile or insecureSkipVerifyHosts). */
  insecureSkipVerify: z.boolean().default(false),
  /** A PEM bundle of CAs trusted for https origins, besides the system's (an internal CA). */
  caFile: z.string().min(1).optional(),
  /** A client certificate (PEM) presented to https origins that ask for one, with its key. */
  clientCertFile: z.string().min(1).optional(),
  clientKeyFile: z.string().min(1).optional(),
  /**
   * Hosts whose certificates are not checked, by pattern: `host`, `host:port`, or `*.domain`
   * (one or more labels). An explicit opt-in per host, for origins that cannot get a trusted certificate.
   */
  insecureSkipVerifyHosts: z.array(z.string().min(1)).default([]),
}).refine((c) => Boolean(c.clientCertFile) === Boolean(c.clientKeyFile), { message: 'set clientCertFile and clientKeyFile together', path: ['clientKeyFile'] });

export type HttpSourceConfig = z.infer<typeof httpSourceConfigSchema>;

/** The defaults, for building a client without plugins.json. */
export function defaultHttpSourceConfig(overrides: Partial<HttpSourceConfig> = {}): HttpSourceConfig {
  return httpSourceConfigSchema.parse(overrides);
}
