/** Helpers source plugins share (through the core public index): HTTP repository access, digest checks, abortable streams. */
export * from './repo-http.js';
export * from './digest-verifier.js';
export * from './abortable-stream.js';
export * from './lazy-undici.js';
