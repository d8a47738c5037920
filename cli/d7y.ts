#!/usr/bin/env -S node --max-semi-space-size=1
// Semi-spaces of 1 MiB keep the daemons' young generation small while pieces stream through (V8's
// default lets it grow to 48 MiB), and make scavenges frequent enough that a seed's garbage socket
// chunks from the origin are freed before they spread glibc's heap; scavenges cost no measurable
// CPU more. `npm start` passes the same flag.
import { setFlagsFromString } from 'node:v8';

// V8 reads the flag once, when it sets the heap up, and the heap keeps the size it was given.
// It also counts any non-default flag in the hash a code cache is checked against, so with the flag
// still set node rejects the code cache of every built-in module loaded from here on and compiles
// each from source (about 8 ms of the ~200 ms of CPU a `d7y get` takes here). Back at its default,
// the flag matches the cache again (Node's later V8 leaves memory flags out of that hash).
setFlagsFromString('--max-semi-space-size=0');
const { runProgram } = await import('./program.js');

process.exitCode = await runProgram(process.argv);
