import { z } from 'zod';
import { duration } from './unit-schemas.js';

/** A regular expression given as a string, checked when the config is read. */
const regex = z.string().min(1).superRefine((s, ctx) => {
  try {
    new RegExp(s);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `not a valid regular expression: ${(err as Error).message}` });
  }
});

/** `host:port` or `scheme://host[:port]` of a registry. */
const registry = z.string().regex(/^(https?:\/\/)?[A-Za-z0-9.-]+(:\d{1,5})?\/?$/, 'expected a registry as host[:port] or http(s)://host[:port]');

/**
 * One routing rule of the proxy: a request whose URL (without its query) matches `regex` goes
 * `use` (P2P through the swarm, or direct to the origin); the first matching rule wins. A P2P
 * rule may set the task's tag and application, and the query parameters left out of its id.
 */
export const ProxyRuleSchema = z.strictObject({
  regex,
  use: z.enum(['p2p', 'direct']).default('p2p'),
  tag: z.string().optional(),
  application: z.string().optional(),
  filteredQueryParams: z.array(z.string()).optional(),
});

export type ProxyRule = z.infer<typeof ProxyRuleSchema>;

/** The peer's HTTP proxy and registry mirror (one port). */
export const ProxyConfigSchema = z.strictObject({
  /** Off for seed peers of `d7y up` and for peers embedded in another program. */
  enabled: z.boolean().default(true),
  listen: z.strictObject({
    /** Loopback by default: the proxy serves this host's clients. */
    ip: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(4001),
  }).prefault({}),
  /** Ordered rules; the default sends registry blobs through the swarm, as Dragonfly's sample config does. */
  rules: z.array(ProxyRuleSchema).default([{ regex: 'blobs/sha256.*', use: 'p2p' }]),
  registryMirror: z.strictObject({
    /** The upstream of `/v2/` requests that name none (no `?ns=`, no `X-Dragonfly-Registry`). */
    url: registry.default('https://index.docker.io'),
    /** Registries (`host[:port]`) spoken to over plain http when a request names them by `?ns=` (loopback ones always are). */
    insecureRegistries: z.array(z.string()).default([]),
  }).prefault({}),
  /**
   * HTTPS: `CONNECT` is tunnelled untouched, unless the target host matches one of `hijackHttps.hosts`
   * (regular expressions): then TLS ends at the proxy with a certificate minted by its CA (`d7y proxy ca`
   * prints it; `caCert`/`caKey` give your own), so its downloads can go P2P too.
   */
  hijackHttps: z.strictObject({
    hosts: z.array(regex).default([]),
    caCert: z.string().optional(),
    caKey: z.string().optional(),
  }).prefault({}),
  /** Proxy clients must send `Proxy-Authorization: Basic` with these (407 otherwise). */
  basicAuth: z.strictObject({ username: z.string().min(1), password: z.string().min(1) }).optional(),
  /** Requests per second accepted; more get 429 (0 = no limit). */
  maxRequestsPerSecond: z.number().int().min(0).default(4000),
  /** Requests served at once; more get 429. */
  maxConcurrentRequests: z.number().int().min(1).default(1024),
  /** How long a client may take to send its request headers (`30s`). */
  headersTimeout: duration({ min: 100 }).default(30_000),
  /** How long a connection (or CONNECT tunnel, or an origin reached directly) may stay silent (`2m`). */
  idleTimeout: duration({ min: 100 }).default(120_000),
});

export type ProxyConfig = z.infer<typeof ProxyConfigSchema>;
