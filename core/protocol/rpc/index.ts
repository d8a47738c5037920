/**
 * The scheduler and dfdaemon gRPC protocol: generated messages and service definitions
 * (one namespace per proto package) and the typed client wrappers.
 */
export * as commonv1 from './gen/common.js';
export * as schedulerv1 from './gen/scheduler.js';
export * as dfdaemonv1 from './gen/dfdaemon.js';
export { HostType, TrafficType } from './gen/common.js';
export type { Download, Host, Peer, Piece, Range, Task, ObjectStorage, Hdfs } from './gen/common.js';
export { SchedulerService } from './gen/scheduler.js';
export type {
  SchedulerServer, AnnouncePeerRequest, AnnouncePeerResponse, AnnounceHostRequest,
} from './gen/scheduler.js';
export { DfdaemonUploadService } from './gen/dfdaemon.js';
export type {
  DfdaemonUploadServer, DownloadTaskRequest, DownloadTaskResponse, SyncPiecesRequest, PieceInfo,
} from './gen/dfdaemon.js';
export * from './hash-ring.js';
export * from './grpc-errors.js';
export * from './announce-peer-session.js';
export * from './scheduler-client.js';
export * from './dfdaemon-upload-client.js';
export * from './persistent-cache-clients.js';
