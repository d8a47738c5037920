import type { Readable } from 'node:stream';
import type { SourceEntry } from '../../contracts/source-client.js';
import type { PeerDownloadEvent, PeerDownloadRequest, PeerDownloadResult, TrafficShare } from './download-request.js';

/** A download's bytes in order, as they arrive. */
export interface PeerStream {
  body: Readable;
  taskId: string;
  /**
   * Settles after the body ended, with where the bytes came from when the peer said it; rejects
   * with the peer's D7yError when the download failed after it started.
   */
  done: () => Promise<Partial<TrafficShare>>;
}

/**
 * What a client can ask of a peer: the local API's operations. A daemon's socket
 * (LocalApiClient) and an in-process peer answer the same way, with the same D7yErrors.
 */
export interface PeerApi {
  /** Downloads into `req.output` (absolute) when set; `onEvent` sees progress. Resolves to the result. */
  download(req: PeerDownloadRequest, onEvent?: (ev: PeerDownloadEvent) => void, signal?: AbortSignal): Promise<PeerDownloadResult>;
  /** The bytes of the download in order, as they arrive. */
  stream(req: PeerDownloadRequest, signal?: AbortSignal): Promise<PeerStream>;
  /** The entries of a source listing (prefix, directory, repository), streamed. */
  listSource(req: PeerDownloadRequest, signal?: AbortSignal): AsyncGenerator<SourceEntry>;
  /** A task held by the peer, with its pieces; D7Y_TASK_NOT_FOUND when it is not there. */
  stat(taskId: string): Promise<Record<string, unknown>>;
  list(): Promise<Record<string, unknown>[]>;
  delete(taskId: string): Promise<void>;
  /** Facts about the peer (host id, ports, schedulers, storage). */
  peer(): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}
