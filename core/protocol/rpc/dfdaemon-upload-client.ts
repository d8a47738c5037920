import { Metadata } from '@grpc/grpc-js';
import type { ClientReadableStream } from '@grpc/grpc-js';
import type { Download, Task } from './gen/common.js';
import { DfdaemonUploadClient as GrpcDfdaemonUploadClient, DfdaemonUploadService } from './gen/dfdaemon.js';
import type { DownloadTaskResponse, PieceInfo } from './gen/dfdaemon.js';
import { fromServiceError } from './grpc-errors.js';
import { grpcChannelCredentialsOf, type NodeTls } from '../tls/node-tls.js';
import { authChannelOptions, withControlProof, type GrpcClientAuth } from '../auth/grpc-auth.js';
import { RECONNECT_OPTIONS } from './reconnect-options.js';
import { traceMetadata } from './trace-metadata.js';

/** Where a peer daemon serves DfdaemonUpload: its host ip and rpc port, or `host:port`. */
export type DfdaemonAddress = { host: string; port: number } | string;

export interface DfdaemonUploadClientOptions {
  /** Channels kept open at once; the least recently used one is closed beyond it (default 256). */
  maxChannels?: number;
  /** Deadline of unary calls in milliseconds (default 10 000). */
  callTimeoutMs?: number;
  /** The cluster credential presented on every call; none in an open cluster. */
  auth?: GrpcClientAuth;
  /** TLS of this node (security.tls); none: plain TCP. */
  tls?: NodeTls;
}

export interface StreamCallOptions extends ControlCallOptions {
  signal?: AbortSignal;
  /** Deadline of the whole stream in milliseconds; none by default. */
  timeoutMs?: number;
}

export interface ControlCallOptions {
  /**
   * The target peer's control key (the scheduler's record of it): DownloadTask, StatTask and
   * DeleteTask on a normal peer of an authenticated cluster carry a control proof made with it.
   */
  controlKey?: Buffer;
}

function addressOf(addr: DfdaemonAddress): string {
  if (typeof addr === 'string') return addr;
  return addr.host.includes(':') ? `[${addr.host}]:${addr.port}` : `${addr.host}:${addr.port}`;
}

/**
 * Calls the DfdaemonUpload service of other peer daemons: the scheduler triggers seed peers with
 * `downloadTask`, a child learns which pieces a parent has with `syncPieces`. Streams are async
 * iterables; aborting `signal` cancels the call. Errors are D7yErrors naming the peer address
 * (`D7Y_PEER_UNAVAILABLE` when it cannot be reached).
 */
export class DfdaemonUploadClient {
  private readonly channels = new Map<string, GrpcDfdaemonUploadClient>();
  private readonly maxChannels: number;
  private readonly callTimeoutMs: number;
  private auth?: GrpcClientAuth;
  private tls?: NodeTls;

  constructor(opts: DfdaemonUploadClientOptions = {}) {
    this.maxChannels = opts.maxChannels ?? 256;
    this.callTimeoutMs = opts.callTimeoutMs ?? 10_000;
    this.auth = opts.auth;
    this.tls = opts.tls;
  }

  /** Presents `auth` (over `tls`) on the channels opened from now on (a role loads its credential at start). */
  authenticate(auth: GrpcClientAuth | undefined, tls?: NodeTls): void {
    this.auth = auth;
    this.tls = tls;
    this.close();
  }

  /** Asks the daemon to download a task; yields its progress until it finishes. */
  downloadTask(addr: DfdaemonAddress, download: Download, opts: StreamCallOptions = {}): AsyncIterable<DownloadTaskResponse> {
    const address = addressOf(addr);
    const call = this.client(address).downloadTask({ download }, this.control(DfdaemonUploadService.downloadTask.path, opts), this.deadline(opts.timeoutMs));
    return this.iterate(call, address, opts.signal);
  }

  /** Pieces the daemon holds of `taskId`, then new ones as they finish. */
  syncPieces(addr: DfdaemonAddress, req: { taskId: string; interestedPieceNumbers?: number[]; hostId?: string },
    opts: StreamCallOptions = {}): AsyncIterable<PieceInfo> {
    const address = addressOf(addr);
    const call = this.client(address).syncPieces({
      taskId: req.taskId, interestedPieceNumbers: req.interestedPieceNumbers ?? [], hostId: req.hostId ?? '',
    }, traceMetadata(), this.deadline(opts.timeoutMs));
    return this.iterate(call, address, opts.signal);
  }

  statTask(addr: DfdaemonAddress, taskId: string, opts: ControlCallOptions = {}): Promise<Task> {
    const address = addressOf(addr);
    return new Promise((resolve, reject) => {
      this.client(address).statTask({ taskId }, this.control(DfdaemonUploadService.statTask.path, opts), this.deadline(this.callTimeoutMs), (err, res) => {
        if (err) reject(fromServiceError(err, `peer ${address}`, 'D7Y_PEER_UNAVAILABLE'));
        else resolve(res);
      });
    });
  }

  deleteTask(addr: DfdaemonAddress, taskId: string, opts: ControlCallOptions = {}): Promise<void> {
    const address = addressOf(addr);
    return new Promise((resolve, reject) => {
      this.client(address).deleteTask({ taskId }, this.control(DfdaemonUploadService.deleteTask.path, opts), this.deadline(this.callTimeoutMs), (err) => {
        if (err) reject(fromServiceError(err, `peer ${address}`, 'D7Y_PEER_UNAVAILABLE'));
        else resolve();
      });
    });
  }

  /** Closes every channel; streams in flight are cancelled. */
  close(): void {
    for (const c of this.channels.values()) c.close();
    this.channels.clear();
  }

  /** The call's metadata: a control proof for `method` when there is a key and a credential. */
  private control(method: string, opts: ControlCallOptions): Metadata {
    return withControlProof(new Metadata(), this.auth, opts.controlKey, method);
  }

  private deadline(timeoutMs?: number): { deadline?: number } {
    return timeoutMs === undefined ? {} : { deadline: Date.now() + timeoutMs };
  }

  private client(address: string): GrpcDfdaemonUploadClient {
    let c = this.channels.get(address);
    if (c) {
      this.channels.delete(address);
      this.channels.set(address, c);
      return c;
    }
    c = new GrpcDfdaemonUploadClient(address, grpcChannelCredentialsOf(this.tls), { 'grpc.keepalive_time_ms': 30_000, ...RECONNECT_OPTIONS, ...authChannelOptions(this.auth) });
    this.channels.set(address, c);
    while (this.channels.size > this.maxChannels) {
      const [oldest, client] = this.channels.entries().next().value as [string, GrpcDfdaemonUploadClient];
      this.channels.delete(oldest);
      client.close();
    }
    return c;
  }

  private async *iterate<T>(call: ClientReadableStream<T>, address: string, signal?: AbortSignal): AsyncIterable<T> {
    const onAbort = () => call.cancel();
    if (signal?.aborted) call.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const msg of call as AsyncIterable<T>) yield msg;
    } catch (err) {
      throw fromServiceError(err, `peer ${address}`, 'D7Y_PEER_UNAVAILABLE');
    } finally {
      signal?.removeEventListener('abort', onAbort);
      call.cancel();
    }
  }
}
