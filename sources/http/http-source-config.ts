import { z } from 'zod';

/** Config of the `http` source plugin (plugins.json `config`); every field has a default. */
export const httpSourceConfigSchema = z.strictObject({
  /** Milliseconds to establish a TCP/TLS connection. */
  connectTimeout: z.number().int().positive().default(10_000),
  /** Milliseconds to wait for response headers once the request is sent. */
  headersTimeout: z.number().int().positive().default(30_000),
  /** Milliseconds of silence allowed between body chunks. */
  bodyTimeout: z.number().int().positive().default(60_000),
  /** Retries after 5xx, 429 and connection failures before the body starts. */
  retries: z.number().int().min(0).max(20).default(3),
  /** Base delay of the exponential backoff (full jitter), in milliseconds. */
  retryDelay: z.number().int().min(0).default(200),
  /** Cap of one backoff delay, in milliseconds. */
  maxRetryDelay: z.number().int().min(0).default(5_000),
  /** Milliseconds one stat/download may spend getting a response, retries included. */
  deadline: z.number().int().positive().default(120_000),
  maxRedirections: z.number().int().min(0).max(50).default(5),
  maxConnectionsPerOrigin: z.number().int().positive().max(1024).default(16),
  /** Accept any TLS certificate (test origins only). */
  insecureSkipVerify: z.boolean().default(false),
});

export type HttpSourceConfig = z.infer<typeof httpSourceConfigSchema>;

/** The defaults, for building a client without plugins.json. */
export function defaultHttpSourceConfig(overrides: Partial<HttpSourceConfig> = {}): HttpSourceConfig {
  return httpSourceConfigSchema.parse(overrides);
}
