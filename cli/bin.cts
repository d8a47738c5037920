#!/usr/bin/env -S node --max-semi-space-size=2
// The `d7y` bin. Semi-spaces of 2 MiB keep the daemons' young generation at a few MiB while pieces
// stream through (V8's default lets it grow to 48 MiB); scavenges cost no measurable CPU more.
//
// libuv's thread pool, which runs the disk medium's positioned writes, gets one thread per core
// (at least 2, at most libuv's default of 4) unless UV_THREADPOOL_SIZE is set. Writes to one
// content file take its inode lock in turn, and on a 2-core host two more threads only spin on
// that lock while the event loop waits for a core. libuv reads the variable when the pool first
// starts, which the ES module loader does while loading the CLI, so this file is CommonJS and is
// run before it. `npm start` goes through this file too.
import { availableParallelism } from 'node:os';

process.env.UV_THREADPOOL_SIZE ??= String(Math.min(4, Math.max(2, availableParallelism())));
void import('./d7y.js');
