#!/usr/bin/env -S node --max-semi-space-size=2
// Semi-spaces of 2 MiB keep the daemons' young generation at a few MiB while pieces stream through
// (V8's default lets it grow to 48 MiB); scavenges cost no measurable CPU more. `npm start` passes the same flag.
import { runProgram } from './program.js';

process.exitCode = await runProgram(process.argv);
