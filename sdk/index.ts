/**
 * `d7y`: the client SDK. Download through a d7y peer — the local daemon, or one embedded in
 * this process — and look at what it holds.
 */
export { D7yClient, D7yCache } from './d7y-client.js';
export type { CacheImportOptions, ConnectOptions, DownloadOptions, DownloadProgress, DownloadResult, EmbeddedOptions } from './d7y-client.js';
export { D7yError, isD7yError } from '../core/errors/d7y-error.js';
export type { D7yErrorCode } from '../core/errors/d7y-error.js';
export { taskId } from '../core/task/task-id.js';
export type { CacheTaskView, CacheHolderView } from '../core/protocol/local-api/cache-api.js';
