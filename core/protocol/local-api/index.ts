/** The peer's local API: what its clients (the CLI, the SDK) send and receive over the daemon's unix socket. */
export * from './download-request.js';
export * from './error-trailer.js';
export * from './local-api-client.js';
export * from './range-arg.js';
export * from './peer-api.js';
export * from './socket-answers.js';
export * from './output-path.js';
