export * from './vortex-tags.js';
export * from './piece-content-meta.js';
export * from './piece-provider.js';
export * from './vortex-frames.js';
export * from './vortex-decoder.js';
export * from './vortex-error-codes.js';
export * from './vortex-server.js';
export * from './vortex-client.js';
