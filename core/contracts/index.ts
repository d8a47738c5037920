export * from './startable.js';
export * from './source-client.js';
export * from './evaluator.js';
export * from './storage-medium.js';
export * from './plugin.js';
