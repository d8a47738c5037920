import { z } from 'zod';
import type { Readable } from 'node:stream';

/** `d7y cache import`: a file the daemon reads (absolute path) and keeps as a persistent-cache task. */
export const CacheImportRequestSchema = z.strictObject({
  path: z.string().min(1),
  /** The user's name for the task (64 hex characters are used as the id itself). */
  id: z.string().min(1).max(256).regex(/^[\w.:@\-/]+$/, 'may hold only letters, digits and . _ - : @ /').optional(),
  replicas: z.number().int().min(1).default(2),
  ttlMs: z.number().int().min(1),
  tag: z.string().max(1024).optional(),
  application: z.string().max(1024).optional(),
  pieceLength: z.number().int().min(1).optional(),
});
export type CacheImportRequest = z.input<typeof CacheImportRequestSchema>;

/** `d7y cache export`: into `output` (absolute) when set, else only made present on the peer (then `stream`). */
export const CacheExportRequestSchema = z.strictObject({
  id: z.string().min(1).max(256),
  output: z.string().min(1).optional(),
  overwrite: z.boolean().optional(),
  timeoutMs: z.number().int().min(1).optional(),
});
export type CacheExportRequest = z.input<typeof CacheExportRequestSchema>;

/** `d7y push`: the peers of a scope fetch a copy of a held task now. Exactly one of all, count, percentage, ips. */
export const CachePushRequestSchema = z.strictObject({
  id: z.string().min(1).max(256),
  all: z.boolean().optional(),
  count: z.number().int().min(1).max(100_000).optional(),
  percentage: z.number().int().min(1).max(100).optional(),
  ips: z.array(z.string().min(1).max(64)).min(1).max(10_000).optional(),
}).refine((r) => [r.all, r.count, r.percentage, r.ips].filter((v) => v !== undefined && v !== false).length === 1, 'give exactly one of all, count, percentage, ips');
export type CachePushRequest = z.input<typeof CachePushRequestSchema>;

/** What one peer of a push said: it accepted (and fetches now), held a copy already, or refused. */
export interface CachePushOutcome {
  hostId: string;
  ip: string;
  hostname: string;
  ok: boolean;
  alreadyHeld: boolean;
  error?: string;
}

/** A host holding a copy. */
export interface CacheHolderView {
  hostId: string;
  ip: string;
  hostname: string;
  /** A replica the scheduler counts (kept until the TTL); false for a copy an export left. */
  persistent: boolean;
}

/** A persistent-cache task as `d7y cache stat` shows it. Times are Unix milliseconds. */
export interface CacheTaskView {
  taskId: string;
  /** The user's name (`--id`), when the task has one. */
  name?: string;
  contentLength: number;
  pieceLength: number;
  pieceCount: number;
  /** `sha256:<hex>` of the content. */
  digest: string;
  tag?: string;
  application?: string;
  /** Replicas asked for, and persistent ones held now (undefined when no scheduler was asked). */
  replicas: number;
  currentReplicas?: number;
  holders?: CacheHolderView[];
  ttlMs: number;
  createdAt: number;
  expiresAt: number;
  /** This peer holds a copy. */
  heldHere: boolean;
  /** Where the view comes from: the cluster's scheduler, or this peer alone. */
  source: 'scheduler' | 'local';
  /** Set by export: the file written. */
  output?: string;
}

/** NDJSON events of import and export. */
export type CacheEvent =
  | { event: 'progress'; phase: 'hashing' | 'importing' | 'exporting'; bytes: number; total: number }
  | { event: 'done'; task: CacheTaskView }
  | { event: 'error'; code: string; message: string; fix?: string };

/** The persistent cache of a peer, as the CLI and the SDK use it. */
export interface CacheApi {
  import(req: CacheImportRequest, onEvent?: (ev: CacheEvent) => void, signal?: AbortSignal): Promise<CacheTaskView>;
  /** Fetches a copy from the holders (when not held) and writes `req.output` when set. */
  export(req: CacheExportRequest, onEvent?: (ev: CacheEvent) => void, signal?: AbortSignal): Promise<CacheTaskView>;
  /** The bytes of a task held by the peer, in order (export it first). */
  stream(id: string, signal?: AbortSignal): Promise<Readable>;
  stat(id: string): Promise<CacheTaskView>;
  /** Deletes the task cluster-wide (every copy); resolves to the copies told to go. */
  remove(id: string): Promise<{ taskId: string; removedCopies: number }>;
  list(): Promise<CacheTaskView[]>;
  /** Asks the scheduler to have the peers of a scope fetch a copy now; resolves with each peer's answer. */
  push(req: CachePushRequest): Promise<{ taskId: string; outcomes: CachePushOutcome[] }>;
}
