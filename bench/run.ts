#!/usr/bin/env node
import '../core/metadata-polyfill.js';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isD7yError } from '../core/index.js';

type Bench = { run(args: string[]): Promise<void> };

/** Benchmark name → module; each module exports `run(args)`. */
export const BENCHMARKS: Record<string, () => Promise<Bench>> = {
  swarm: () => import('./swarm.js'),
  throughput: () => import('./throughput.js'),
  'link-security': () => import('./link-security.js'),
  'cache-throughput': () => import('./cache-throughput.js'),
  memory: () => import('./memory.js'),
  'scheduler-load': () => import('./scheduler-load.js'),
  'ab-experiment': () => import('./ab-experiment.js'),
  'proxy-ttfb': () => import('./proxy-ttfb.js'),
  'proxy-throughput': () => import('./proxy-throughput.js'),
  'metrics-overhead': () => import('./metrics-overhead.js'),
  sync: () => import('./sync.js'),
  'sync-hosts': () => import('./sync-hosts.js'),
  soak: () => import('./soak.js'),
  'vortex-receive': () => import('./vortex-receive.js'),
};

/** `npm run bench -- <name> [args]`; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || !(name in BENCHMARKS)) {
    process.stderr.write(`bench: ${name ? `unknown benchmark "${name}"` : 'no benchmark named'}\nfix: run npm run bench -- <${Object.keys(BENCHMARKS).join('|')}> [args]\n`);
    return 2;
  }
  try {
    await (await BENCHMARKS[name]!()).run(args);
    return 0;
  } catch (err) {
    if (isD7yError(err)) {
      process.stderr.write(`bench: ${err.message}\n${err.fix ? `fix: ${err.fix}\n` : ''}`);
      return err.code === 'D7Y_INVALID_ARGUMENT' ? 2 : 1;
    }
    process.stderr.write(`bench: ${name} failed: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
