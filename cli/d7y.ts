#!/usr/bin/env node
import 'reflect-metadata';
import { logVerbosity, setLogVerbosity } from '@grpc/grpc-js';
import { runProgram } from './program.js';

if (!process.env.GRPC_VERBOSITY) setLogVerbosity(logVerbosity.NONE);
process.exitCode = await runProgram(process.argv);
