#!/usr/bin/env -S node --max-semi-space-size=1
// Semi-spaces of 1 MiB keep the daemons' young generation small while pieces stream through (V8's
// default lets it grow to 48 MiB), and make scavenges frequent enough that a seed's garbage socket
// chunks from the origin are freed before they spread glibc's heap; scavenges cost no measurable
// CPU more. `npm start` passes the same flag.
import { runProgram } from './program.js';

process.exitCode = await runProgram(process.argv);
