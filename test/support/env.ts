import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';

/** The repository root (tests run from dist/test/support). */
export const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
/** The built CLI entry point. */
export const d7yBin = join(repoRoot, 'dist/cli/d7y.js');

/** A fresh temporary directory, removed when the test ends. */
export async function tmpDir(t: ExecutionContext, prefix = 'd7y-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Every file under `dir`, as sorted `/`-separated paths relative to it. */
export async function walk(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...await walk(join(dir, e.name), `${prefix}${e.name}/`));
    else out.push(`${prefix}${e.name}`);
  }
  return out.sort();
}

/**
 * A TCP port free on 127.0.0.1 at the time of the call, taken below the kernel's ephemeral range: a
 * process that binds port 0 (a role on a random port, any outgoing connection) can never be handed it
 * between this call and the bind of whoever asked for it.
 */
export async function freePort(): Promise<number> {
  const [low, count] = reservedRange();
  // Each process walks its own slice of the range (by pid), so two test files running at once
  // rarely offer the same port before its user binds it.
  const slices = 64;
  const size = Math.floor(count / slices);
  const start = low + (process.pid % slices) * size;
  for (let tries = 0; tries < count; tries++) {
    // Taken before the await, so calls running at once never get the same port.
    const port = nextPort === undefined ? start + Math.floor(Math.random() * (size / 4)) : low + ((nextPort - low + 1) % count);
    nextPort = port;
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port in ${low}-${low + count - 1}`);
}

let nextPort: number | undefined;

/** [first, count] of the ports below /proc/sys/net/ipv4/ip_local_port_range (10000 up to its start). */
function reservedRange(): [number, number] {
  let ephemeralLow = 32768;
  try {
    ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || ephemeralLow;
  } catch { /* not Linux: the usual default */ }
  const low = 10_000;
  return [low, Math.max(1000, ephemeralLow - low)];
}

function canListen(port: number): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => res(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => res(true)));
  });
}
