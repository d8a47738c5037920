#!/usr/bin/env node
import 'reflect-metadata';
import { runProgram } from './program.js';

process.exitCode = await runProgram(process.argv);
