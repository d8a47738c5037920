import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { D7yError } from '../core/errors/d7y-error.js';
import { VortexClient } from '../core/protocol/vortex/vortex-client.js';
import { appendJsonLines, formatTable, parseSizeRuns } from './support/bench-files.js';
import { median } from './support/stats.js';
import { Teardown } from './support/teardown.js';

const PIECE_MIB = 64;

/**
 * `npm run bench -- vortex-receive [--size 1024] [--runs 5] [--out file.jsonl]`: the CPU the Vortex
 * client's receiving path costs per GiB on loopback (socket reads, framing, gathering into the
 * body's 256 KiB chunks, a consumer that only counts them), without storage or hashing. The
 * server, holding one 64 MiB piece in memory, runs in a process of its own; only this process's
 * CPU is counted, after four warm-up pieces; `--size` is rounded to whole pieces. Compare builds by
 * running each in turn.
 */
export async function run(argv: string[]): Promise<void> {
  const { sizeMiB, runs, out } = parseSizeRuns(argv, 'vortex-receive');
  if (sizeMiB < PIECE_MIB) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `vortex-receive: --size ${sizeMiB} is less than one ${PIECE_MIB} MiB piece`, {
      fix: `run: npm run bench -- vortex-receive --size ${PIECE_MIB * 16} [--runs 5]`,
    });
  }
  const teardown = new Teardown();
  try {
    const serverFile = fileURLToPath(new URL('./support/vortex-memory-server.js', import.meta.url));
    const child = spawn(process.execPath, [serverFile, String(PIECE_MIB)], { stdio: ['ignore', 'pipe', 'inherit'] });
    teardown.add('vortex server', async () => { if (child.exitCode === null) { child.kill('SIGTERM'); await once(child, 'exit'); } });
    // The port line, or the server's exit if it could not start (its error went to stderr).
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout!.once('data', (line: Buffer) => resolve(Number(line.toString().trim())));
      child.once('exit', (code) => reject(new Error(`the benchmark's Vortex server exited (${code}) before listening`)));
      child.once('error', reject);
    });
    const client = new VortexClient();
    teardown.add('vortex client', () => client.close());
    const addr = { host: '127.0.0.1', port };
    const fetchPiece = async (): Promise<number> => {
      const { body } = await client.openPiece(addr, { taskId: 'b'.repeat(64), number: 0 });
      let n = 0;
      await body.pipe((chunk) => { n += chunk.length; });
      return n;
    };
    for (let i = 0; i < 4; i += 1) await fetchPiece();
    const load = loadavg()[0]!;
    const pieces = Math.round(sizeMiB / PIECE_MIB);
    const gib = (pieces * PIECE_MIB) / 1024;
    const cpu: number[] = [];
    const user: number[] = [];
    const mibps: number[] = [];
    for (let r = 0; r < runs; r += 1) {
      const u0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < pieces; i += 1) {
        const n = await fetchPiece();
        if (n !== PIECE_MIB * 2 ** 20) throw new Error(`piece of ${n} bytes, expected ${PIECE_MIB} MiB`);
      }
      const u = process.cpuUsage(u0);
      mibps.push((gib * 1024) / ((performance.now() - t0) / 1000));
      cpu.push((u.user + u.system) / 1e6 / gib);
      user.push(u.user / 1e6 / gib);
    }
    const f = (xs: number[], d: number): string => xs.map((x) => x.toFixed(d)).join(' ');
    console.log(formatTable(['Vortex client, loopback', 'median', 'runs'], [
      ['CPU-s per GiB', median(cpu).toFixed(3), f(cpu, 3)],
      ['of which user', median(user).toFixed(3), f(user, 3)],
      ['MiB/s', median(mibps).toFixed(0), f(mibps, 0)],
    ]));
    const file = await appendJsonLines(out, 'vortex-receive', [{
      bench: 'vortex-receive', at: new Date().toISOString(), sizeMiB: pieces * PIECE_MIB, runs, loadavg1: Math.round(load * 100) / 100,
      cpuSecondsPerGiB: cpu.map((x) => Math.round(x * 1000) / 1000), userSecondsPerGiB: user.map((x) => Math.round(x * 1000) / 1000),
      mibps: mibps.map(Math.round),
    }]);
    console.log(`results: ${file}`);
  } finally {
    await teardown.run();
  }
}
