import { z } from 'zod';

/** What a client (the CLI, the SDK, the dfdaemon DownloadTask call) asks the peer to download. */
export const PeerDownloadRequestSchema = z.strictObject({
  url: z.string().min(1),
  /** Request headers sent to the origin as they are. */
  headers: z.record(z.string(), z.string()).optional(),
  tag: z.string().optional(),
  application: z.string().optional(),
  /** Bytes; only when the user chose one (it changes the task id). */
  pieceLength: z.number().int().positive().optional(),
  filteredQueryParams: z.array(z.string()).optional(),
  /** `sha256:<hex>` or `crc32:<n>` of the bytes asked for, verified at the end. */
  digest: z.string().optional(),
  /** Only these bytes of the object. */
  range: z.strictObject({ start: z.number().int().min(0), length: z.number().int().min(1) }).optional(),
  disableBackToSource: z.boolean().optional(),
  /** Go to the origin without asking the swarm (the scheduler's trigger of a seed peer). */
  needBackToSource: z.boolean().optional(),
  /** Milliseconds for the whole download; unset means no limit. */
  timeoutMs: z.number().int().positive().optional(),
  objectStorage: z.strictObject({
    endpoint: z.string().optional(),
    region: z.string().optional(),
    accessKeyId: z.string().optional(),
    accessKeySecret: z.string().optional(),
    sessionToken: z.string().optional(),
    credentialFile: z.string().optional(),
  }).optional(),
  hdfs: z.strictObject({ delegationToken: z.string().optional() }).optional(),
  options: z.record(z.string(), z.string()).optional(),
  /** Absolute path the daemon writes the result to (see `outputMode`); unset when streaming. */
  output: z.string().optional(),
  /** Replace an existing output file. */
  overwrite: z.boolean().optional(),
  /**
   * How the output file is made from the peer's copy. Unset: a copy-on-write clone where the file
   * system allows, else a hard link; `clone` (else a copy), `copy`, or `hardlink`. A hard link costs
   * no copy; a later edit of the file makes the peer re-verify the task and drop it if any piece changed.
   */
  outputMode: z.enum(['clone', 'copy', 'hardlink']).optional(),
});

export type PeerDownloadRequest = z.infer<typeof PeerDownloadRequestSchema>;

/**
 * Where a download's bytes came from, counted per piece: `fromPeers` (remote or local peers),
 * `fromOrigin` (back-to-source) and `fromCache` (pieces this peer held when the request started).
 */
export interface TrafficShare {
  fromPeers: number;
  fromOrigin: number;
  fromCache: number;
}

/** What a finished download reports. */
export interface PeerDownloadResult extends Partial<TrafficShare> {
  taskId: string;
  contentLength: number;
  pieceLength: number;
  pieceCount: number;
  /** Everything asked for was already held: no scheduler, no origin. */
  localHit: boolean;
  /** Bytes delivered (the range length, or the content length). */
  bytes: number;
  output?: string;
  /** How the output file was made (`clone` only when a reflink was made). */
  outputMode?: 'clone' | 'copy' | 'hardlink';
}

/** Progress events of a download, as the local API streams them (NDJSON). */
export type PeerDownloadEvent =
  | { event: 'started'; taskId: string; contentLength?: number; pieceLength: number; total?: number; localHit: boolean }
  | ({ event: 'progress'; taskId: string; bytes: number; total?: number } & Partial<TrafficShare>)
  | { event: 'done'; result: PeerDownloadResult }
  | { event: 'error'; code: string; message: string; fix?: string };
