import type { Readable } from 'node:stream';
import type { Startable } from './startable.js';

/** What a medium keeps of a task. Survives a restart on persistent media. */
export interface TaskRecord {
  taskId: string;
  url?: string;
  /** Undefined while an origin without Content-Length is still streaming. */
  contentLength?: number;
  pieceLength: number;
  /** The whole-file digest when known (`sha256:<hex>`). */
  digest?: string;
  finished: boolean;
  createdAt: number;
  lastAccessedAt: number;
  /** Pinned tasks (persistent cache) are never collected by GC. */
  pinned?: boolean;
  /**
   * What the origin said of the content when the task was created (ETag, Last-Modified, length):
   * a resume that finds the origin saying otherwise starts the task again instead of mixing versions.
   */
  origin?: string;
  /**
   * Set while an output file is a hard link of the task's content file: the file as it was when
   * linked. A peer that finds the file otherwise checks every piece before it uses the task again.
   */
  linked?: LinkStamp;
}

/** What identifies one state of a file: a write, a truncation or a replacement changes one of these. */
export interface LinkStamp {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
}

export interface PieceRecord {
  number: number;
  offset: number;
  length: number;
  /** `crc32:<decimal>` of the piece bytes. */
  digest: string;
  /**
   * The piece's cryptographic digest (`blake3:<hex>` or `sha256:<hex>`) when the peer gave one
   * (`WritePieceOptions.contentDigest`): what it checked the bytes against, or computed from the origin.
   */
  contentDigest?: string;
}

/**
 * Bytes of each chunk a Vortex PieceFeed hands its consumer (all but a piece's last); media write
 * in batches of the same size, so such a chunk is one whole batch, aligned with the piece's start.
 */
export const FEED_CHUNK_BYTES = 256 * 1024;

/**
 * A piece's bytes pushed by a transfer that reuses its read buffer (a Vortex body read straight
 * off the socket): each chunk is valid only during the call, so a consumer copies what it keeps.
 */
export interface PieceFeed {
  readonly kind: 'piece-feed';
  /**
   * Delivers the bytes in order; a promise returned by `onChunk` holds the next chunk back until it
   * settles (a rejection abandons the transfer). Resolves after the last byte was delivered and
   * the last such promise settled; rejects when the transfer fails. Call at most once.
   */
  pipe(onChunk: (chunk: Buffer) => void | Promise<void>): Promise<void>;
  /** Abandons the transfer; a running `pipe` rejects. */
  destroy(err?: Error): void;
}

/**
 * The bytes of a piece as a medium gives them. A medium may lend its chunks from a buffer pool and
 * offer `recycle`: a consumer done with a chunk (no write of it pending, no view of it kept) may
 * give it back, sparing an allocation; consumers that keep chunks simply never call it.
 */
export type PieceReadable = Readable & { recycle?(chunk: Buffer): void };

/** A piece being written, as a reader following its bytes sees it (see StorageMedium.followWritten). */
export interface WrittenProgress {
  /** Leading bytes of the piece written so far, from its start and without gaps; never decreases. */
  readonly written: number;
  /** True once the whole piece is held. */
  readonly done: boolean;
  /** Why the write failed, once it did. */
  readonly error: Error | undefined;
  /** Resolves once more than `seen` bytes are written or the write ended; rejects when `signal` aborts. */
  more(seen: number, signal?: AbortSignal): Promise<void>;
}

/** The bytes of one piece as a medium takes them (a PieceFeed only if the medium `takesFeeds`). */
export type PieceInput = Readable | Buffer | PieceFeed;

/** True for a PieceFeed (neither a Buffer nor a stream). */
export function isPieceFeed(data: PieceInput): data is PieceFeed {
  return (data as PieceFeed).kind === 'piece-feed';
}

/** What one garbage collection pass removed. */
export interface StorageGcReport {
  evicted: { taskId: string; reason: 'ttl' | 'watermark' | 'quota'; bytes: number }[];
}

export interface StorageStats {
  usedBytes: number;
  freeBytes: number;
  taskCount: number;
}

/** Options of one `writePiece` call. */
export interface WritePieceOptions {
  /**
   * Called by media that implement `readWritten` as the piece's bytes land: how many leading bytes
   * of the piece (from its start, without gaps) `readWritten` can return now. Never decreases; not
   * called by other media.
   */
  onWritten?(bytes: number): void;
  /**
   * Asked once, after every byte was consumed and matched, for the piece's cryptographic digest: a
   * medium keeps the answer as the record's `contentDigest` (across restarts where it persists).
   */
  contentDigest?(): string | undefined;
}

/**
 * Where pieces live. A piece is visible to `hasPiece`/`readPiece` only once `writePiece` resolved;
 * a failed or mismatched write leaves no trace of the piece. Calls on different pieces of one task
 * may run concurrently.
 */
export interface StorageMedium extends Startable {
  readonly name: string;
  /** True when `writePiece` takes a PieceFeed; other media are given the same bytes as a stream. */
  readonly takesFeeds?: boolean;
  /** Creates the task or updates its record (content length known late, finished flag). */
  putTask(record: Omit<TaskRecord, 'createdAt' | 'lastAccessedAt' | 'finished'> & Partial<TaskRecord>): Promise<TaskRecord>;
  getTask(taskId: string): Promise<TaskRecord | undefined>;
  listTasks(): Promise<TaskRecord[]>;
  /**
   * Writes one piece at its offset. Computes the crc32 of the bytes; when `expectedDigest` is given
   * and differs, rejects with D7Y_DIGEST_MISMATCH and records nothing. Consumes `data` fully
   * (destroys it on failure). Rejects with D7Y_STORAGE_FULL when the medium has no room.
   */
  writePiece(taskId: string, piece: Omit<PieceRecord, 'digest'>, data: PieceInput, expectedDigest?: string, opts?: WritePieceOptions): Promise<PieceRecord>;
  /**
   * Bytes of a piece while `writePiece` is still writing it, so a peer can pass a piece on before it
   * is whole: `range` (relative to the piece) lies within the bytes `onWritten` reported. They are
   * unverified until the write resolves (the reader checks the digest). Also serves a piece already
   * held. Rejects with D7Y_PIECE_NOT_FOUND when the piece is neither being written nor held.
   */
  readWritten?(taskId: string, piece: Omit<PieceRecord, 'digest'>, range: { start: number; length: number }): Promise<PieceReadable>;
  /**
   * `range` of a piece being written (or held), as one stream that follows `progress`: it gives the
   * bytes as they are written, waits for more while the write goes on, fails with the write's
   * error, and ends once the range is given. Optional, and a medium may answer undefined for a
   * piece it cannot follow this way (encrypted at rest, say): the caller then reads the written
   * bytes in turn with `readWritten`. Rejects as `readWritten` does for unknown pieces and ranges.
   */
  followWritten?(taskId: string, piece: Omit<PieceRecord, 'digest'>, range: { start: number; length: number }, progress: WrittenProgress): Promise<PieceReadable | undefined>;
  /**
   * `range` of a piece held or being written, as a span of a file holding its plain bytes, for the
   * kernel to send (sendfile): the file's descriptor, where the range starts in the file, and the
   * function (idempotent) that gives the descriptor back. The bytes of a piece being written are
   * valid only up to what `onWritten` reported. Undefined when the medium keeps no such file (pieces
   * encrypted at rest, memory). Rejects as `followWritten` does.
   */
  fileSpan?(taskId: string, piece: Omit<PieceRecord, 'digest'>, range: { start: number; length: number }): Promise<{ fd: number; position: number; release: () => void } | undefined>;
  /**
   * Whether `fileSpan` can give the task's bytes at all (false: pieces encrypted at rest); asked
   * before a send waits for its upload slot, so that a send that must go through `readPiece` waits
   * once. Absent: as if true.
   */
  keepsPlainFile?(taskId: string): boolean;
  /** The piece's bytes (a sub-range when given, relative to the piece). Rejects with D7Y_PIECE_NOT_FOUND. */
  readPiece(taskId: string, pieceNumber: number, range?: { start: number; length: number }): Promise<PieceReadable>;
  hasPiece(taskId: string, pieceNumber: number): Promise<boolean>;
  listPieces(taskId: string): Promise<PieceRecord[]>;
  deleteTask(taskId: string): Promise<void>;
  stats(): Promise<StorageStats>;
  /** A file holding the whole task's bytes at their offsets, for media that have one (hard link / copy out). */
  taskFilePath?(taskId: string): string | undefined;
  /** Runs garbage collection now (media that collect on their own also do it on a timer). */
  gc?(): Promise<StorageGcReport>;
}
