import { isIP } from 'node:net';
import { z } from 'zod';
import { hostnamePatternError } from './hostname-pattern.js';

const cidr = z.string().refine((c) => {
  const [net, bits, extra] = c.split('/');
  const family = isIP(net ?? '');
  const n = Number(bits);
  return extra === undefined && family > 0 && Number.isInteger(n) && n >= 0 && n <= (family === 6 ? 128 : 32);
}, 'expected a CIDR such as 10.0.0.0/8');

const regex = z.string().max(512).superRefine((p, ctx) => {
  const why = hostnamePatternError(p);
  if (why) ctx.addIssue({ code: 'custom', message: `expected a regular expression in RE2 syntax (no look-around or back-references): ${why}` });
});

export const ClusterScopesSchema = z.strictObject({
  idc: z.string().max(1024).optional(),
  location: z.string().max(1024).optional(),
  cidrs: z.array(cidr).max(100).optional(),
  hostnames: z.array(regex).max(100).optional(),
});

const Variant = z.strictObject({ name: z.string().min(1), evaluator: z.string().min(1), weight: z.number().int().min(0).max(100) });

/** Dynamic config schedulers of the cluster fetch with every keepalive and apply without restart. */
export const SchedulerDynConfigSchema = z.strictObject({
  evaluator: z.string().min(1).optional(),
  experiment: z.strictObject({
    id: z.string().min(1), bucketBy: z.enum(['task', 'host']).default('task'), variants: z.array(Variant).min(1).max(10),
  }).refine((e) => e.variants.reduce((a, v) => a + v.weight, 0) === 100, 'variant weights must sum to 100').optional(),
  candidateParentLimit: z.number().int().min(1).max(20).optional(),
  filterParentLimit: z.number().int().min(1).max(1000).optional(),
  maxBackToSourcePeersPerTask: z.number().int().min(0).max(10_000).optional(),
});

/** Dynamic config peers of the cluster fetch with their scheduler list. */
export const ClientDynConfigSchema = z.strictObject({
  download: z.strictObject({
    concurrency: z.number().int().min(1).max(16).optional(),
    rateLimit: z.number().int().min(0).optional(),
  }).optional(),
  /** How often peers ask the manager for their schedulers, ms. */
  schedulerRefreshIntervalMs: z.number().int().min(1000).optional(),
});

export type SchedulerDynConfig = z.infer<typeof SchedulerDynConfigSchema>;
export type ClientDynConfig = z.infer<typeof ClientDynConfigSchema>;

const name = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/, 'letters, digits, . _ - (at most 63)');

export const NewSchedulerClusterSchema = z.strictObject({
  name,
  scopes: ClusterScopesSchema.default({}),
  config: SchedulerDynConfigSchema.default({}),
  client_config: ClientDynConfigSchema.default({}),
  is_default: z.boolean().default(false),
  seed_peer_cluster_id: z.string().max(64).optional(),
});

export const UpdateSchedulerClusterSchema = z.strictObject({
  scopes: ClusterScopesSchema.optional(),
  config: SchedulerDynConfigSchema.optional(),
  client_config: ClientDynConfigSchema.optional(),
  is_default: z.boolean().optional(),
});

export const NewSeedPeerClusterSchema = z.strictObject({ name, config: z.record(z.string(), z.unknown()).default({}) });

const host = {
  hostname: z.string().min(1).max(255),
  ip: z.string().refine((ip) => isIP(ip) > 0, 'expected an IP address'),
  idc: z.string().max(255).default(''),
  location: z.string().max(255).default(''),
};

/** A scheduler registering with the manager into the cluster of that name (created when new). */
export const RegisterSchedulerSchema = z.strictObject({ cluster: name, port: z.number().int().min(1).max(65535), ...host });

/** A seed peer registering into the seed-peer cluster of that name (created when new). */
export const RegisterSeedPeerSchema = z.strictObject({
  cluster: name, rpc_port: z.number().int().min(1).max(65535), upload_port: z.number().int().min(0).max(65535).default(0), ...host,
});

export const PeerQuerySchema = z.strictObject({
  hostname: z.string().max(255).optional(),
  ip: z.string().max(64).optional(),
  idc: z.string().max(255).optional(),
  location: z.string().max(255).optional(),
});
