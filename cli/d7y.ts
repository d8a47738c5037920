// The CLI's entry as an ES module; the `d7y` bin (`bin.cjs`) sets node's flags and libuv's pool, then loads it.
import { runProgram } from './program.js';

process.exitCode = await runProgram(process.argv);
