import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { appendFile, mkdir, mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { D7yError } from '../../core/index.js';
import type { Teardown } from './teardown.js';

const MIB = 1024 * 1024;

/**
 * Writes and deletes a scratch file of `bytes` in `dir`, so that the next process to write that
 * much into the page cache gets pages the host backs. On a virtual machine whose host takes freed
 * memory back (free page reporting), whoever first writes into pages freed a few seconds earlier
 * pays the host's fault on each: on the 2-core VM of `docs/performance-log.md`, about 3 system
 * seconds per GiB against 0.3 for pages freed a moment before. A path timed right after the
 * previous one removed its output wrote into backed pages, one timed after a daemon's start did
 * not. On bare metal this is one more page-cache write before the timed part, and changes nothing.
 */
export async function recyclePages(dir: string, bytes: number): Promise<void> {
  const path = join(dir, 'scratch-pages.bin');
  const chunk = Buffer.alloc(4 * MIB, 0x5a);
  const fh = await open(path, 'w');
  try {
    for (let at = 0; at < bytes; at += chunk.length) await fh.write(chunk, 0, Math.min(chunk.length, bytes - at), at);
  } finally {
    await fh.close();
    await rm(path, { force: true });
  }
}

/** Writes `sizeMiB` MiB of random bytes to `path` in 1 MiB chunks; resolves with its sha256 hex. */
export async function writeRandomFile(path: string, sizeMiB: number): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  for (let i = 0; i < sizeMiB; i += 1) {
    const chunk = randomFillSync(Buffer.allocUnsafe(MIB));
    hash.update(chunk);
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return hash.digest('hex');
}

/** sha256 hex of a file, or undefined when it cannot be read. */
export async function sha256File(path: string): Promise<string | undefined> {
  try {
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(path, { highWaterMark: MIB })) hash.update(chunk as Buffer);
    return hash.digest('hex');
  } catch {
    return undefined;
  }
}

/** The default results folder, `bench/results/` of the checkout. */
export const resultsDir = fileURLToPath(new URL('../../../bench/results/', import.meta.url));

/** Appends one JSON line per record to `path` (default `bench/results/<bench>.jsonl`). */
export async function appendJsonLines(path: string | undefined, bench: string, records: object[]): Promise<string> {
  const file = path ?? join(resultsDir, `${bench}.jsonl`);
  await mkdir(dirname(file), { recursive: true });
  await appendFile(file, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return file;
}

/** A fixed-width text table. */
export function formatTable(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => c.padStart(widths[i]!)).join('  ');
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** `--size <MiB> --runs <n> --out <file>` of a benchmark that times one file in interleaved runs. */
export function parseSizeRuns(argv: string[], bench: string): { sizeMiB: number; runs: number; out?: string } {
  try {
    const { values } = parseArgs({ args: argv, strict: true, options: { size: { type: 'string' }, runs: { type: 'string' }, out: { type: 'string' } } });
    const sizeMiB = Number(values.size ?? 1024);
    const runs = Number(values.runs ?? 5);
    if (!Number.isInteger(sizeMiB) || sizeMiB < 1 || !Number.isInteger(runs) || runs < 1 || runs > 20) throw new Error('--size and --runs must be positive whole numbers (runs ≤ 20)');
    return { sizeMiB, runs, out: values.out };
  } catch (err) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `${bench}: ${(err as Error).message}`, { fix: `run: npm run bench -- ${bench} [--size 1024] [--runs 5] [--out file.jsonl]` });
  }
}

/**
 * A work dir for one benchmark run (removed by `teardown`), with a random file of `sizeMiB` at
 * `<root>/data.bin` for an origin to serve; its sha256 and size.
 */
export async function benchWorkDir(teardown: Teardown, prefix: string, sizeMiB: number): Promise<{ workDir: string; root: string; sha: string; bytes: number }> {
  const workDir = await mkdtemp(join(tmpdir(), prefix));
  teardown.add('remove work dir', () => rm(workDir, { recursive: true, force: true }));
  const root = join(workDir, 'origin');
  const sha = await writeRandomFile(join(root, 'data.bin'), sizeMiB);
  const bytes = (await stat(join(root, 'data.bin'))).size;
  return { workDir, root, sha, bytes };
}
