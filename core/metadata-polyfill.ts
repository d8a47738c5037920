import { createRequire } from 'node:module';

// The Reflect metadata polyfill that DI decorators (and @peculiar/x509's) need, loaded with
// `require`: imported from an ES module, node would first scan its 60 KB of CommonJS for named
// exports (cjs-module-lexer), a scan long enough for V8 to compile the scanner with TurboFan, about
// 90 ms of CPU at every daemon start for exports the polyfill does not have. Import this module
// (for its effect) before any module that uses decorators.
createRequire(import.meta.url)('reflect-metadata');
