/**
 * The plugin SDK: the only module plugins (sources, schedulers, storage) may import — definePlugin
 * and the contracts, errors, logging, the task and piece rules plugins apply, the signals evaluators
 * rank parents by, and the helpers sources share.
 */
export * from './contracts/index.js';
export { D7yError, isD7yError, toD7yError } from './errors/d7y-error.js';
export type { D7yErrorCode, D7yErrorOptions } from './errors/d7y-error.js';
export { silentLogger } from './logging/logger.js';
export type { Logger } from './logging/logger.js';
export { DEFAULT_FILTERED_QUERY_PARAMS, filterUrl, isTaskId, taskId } from './task/task-id.js';
export type { TaskIdInput } from './task/task-id.js';
export { formatBytes, MAX_PIECE_LENGTH, MIN_PIECE_LENGTH, parseByteSize } from './task/piece-length.js';
export { Crc32, parseDigest, pieceDigest } from './task/piece-digest.js';
export { contentDigest, contentHashAlgorithm } from './task/content-hash.js';
export { BufferPool, pieceBuffers } from './task/buffer-pool.js';
export { streamPieceFeed, type StreamPieceFeedOptions } from './task/stream-piece-feed.js';
export { formatDuration, formatRate, formatSize, parseDuration, parseRate, parseSize } from './config/units.js';
export type { UnitKind } from './config/units.js';
export { duration, rate, size, unitObject } from './config/unit-schemas.js';
export type { UnitFieldOptions } from './config/unit-schemas.js';
export {
  BAD_COST_MULTIPLE, byScoreThenPeerId, idcAffinity, isBadParentByCosts, locationAffinity, NORMAL_DISTRIBUTION_SAMPLES,
} from './evaluator-kit/parent-signals.js';
export * from './source-kit/index.js';
/** A shared byte-rate limiter (bytes per second) with a pacing stream, as the peer's rate limits use. */
export { packageVersion } from './config/package-version.js';
export { TokenBucket } from './roles/peer/token-bucket.js';
export { applySync, planSync, syncOnce, type SyncPlan, type SyncReport, type SyncSelection } from './sync/sync-engine.js';
export { SyncState, defaultStatePath, recordOf, unchanged, type SyncRecord } from './sync/sync-state.js';
export { DirectoryTarget, OriginTarget, entryTarget, isRemote, schemeOf, type SyncTarget } from './sync/sync-target.js';
