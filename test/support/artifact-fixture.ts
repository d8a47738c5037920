import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './env.js';

const run = promisify(execFile);
const building = new Map<string, Promise<string>>();

/**
 * Runs `test/fixtures/artifacts/<script> <dir>` once and returns `dir`, a directory under the OS
 * temp dir named after the script's sha256, so later test runs reuse it until the script changes.
 * Built into a temporary name and renamed, so a failed or concurrent build never leaves a half fixture.
 */
export function cachedFixture(script: string, timeoutMs = 120_000): Promise<string> {
  let p = building.get(script);
  if (!p) {
    p = build(script, timeoutMs);
    building.set(script, p);
  }
  return p;
}

async function build(script: string, timeoutMs: number): Promise<string> {
  const path = join(repoRoot, 'test/fixtures/artifacts', script);
  const hash = createHash('sha256').update(await readFile(path)).digest('hex').slice(0, 16);
  const root = join(tmpdir(), 'd7y-fixtures');
  const dir = join(root, `${script.replace(/\.sh$/, '')}-${hash}`);
  if (await exists(join(dir, '.done'))) return dir;
  await mkdir(root, { recursive: true });
  const work = `${dir}.build-${process.pid}-${Date.now()}`;
  try {
    await run('bash', [path, work], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
    await run('touch', [join(work, '.done')]);
    await rename(work, dir).catch(async (err: NodeJS.ErrnoException) => {
      if (!(await exists(join(dir, '.done')))) throw err;
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return dir;
}

async function exists(p: string): Promise<boolean> {
  return access(p).then(() => true, () => false);
}
