import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ExecutionContext } from 'ava';
import { tmpDir } from './env.js';
import { stopProcess } from './run-cli.js';

const run = promisify(execFile);

/** A containerd's files, all under one temp dir: its config.toml (which tests may edit before start) and socket. */
export interface ContainerdFiles {
  dir: string;
  configFile: string;
  socket: string;
}

export interface Containerd extends ContainerdFiles {
  readonly pid: number;
  /** Runs `ctr -a <socket> <args>` (bounded to 60 s); rejects with ctr's stderr when it fails. */
  ctr(args: readonly string[]): Promise<{ stdout: string; stderr: string }>;
}

/**
 * Why containerd cannot run here, or undefined when it can: it must run as root (it mounts and
 * chowns), needs the kernel's overlay file system to unpack images, and Debian's `containerd` package.
 */
function cannotRun(): string | undefined {
  if (process.getuid?.() !== 0) return 'containerd must run as root (it mounts snapshots and chowns files); run the tests as root';
  let fs = '';
  try { fs = readFileSync('/proc/filesystems', 'utf8'); } catch { /* not Linux */ }
  if (!/\toverlay$/m.test(fs)) return 'the kernel has no overlay file system (not in /proc/filesystems), which containerd needs to unpack images';
  return undefined;
}

/**
 * Writes a containerd config.toml (version 2) whose root, state, socket and opt folders are all in a
 * fresh temp dir, so it never touches /var/lib/containerd, /run/containerd or /opt. Its CRI plugin
 * stays on (so a bad registry setting shows up in `ctr plugins ls`), without a TCP listener.
 */
export async function writeContainerdConfig(t: ExecutionContext): Promise<ContainerdFiles> {
  const dir = await tmpDir(t, 'd7y-containerd-');
  const socket = join(dir, 'containerd.sock');
  const configFile = join(dir, 'config.toml');
  await writeFile(configFile, `version = 2
root = "${dir}/root"
state = "${dir}/state"

[grpc]
  address = "${socket}"

[ttrpc]
  address = "${socket}.ttrpc"

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    disable_tcp_service = true
    stream_server_address = "127.0.0.1"
  [plugins."io.containerd.internal.v1.opt"]
    path = "${dir}/opt"
`);
  return { dir, configFile, socket };
}

/**
 * Starts Debian's containerd as root with the config of `files` (a fresh one when not given), waits
 * (bounded) until `ctr version` answers, and stops it by PID in teardown. Where containerd cannot
 * run (not root, no overlayfs, not installed) it throws, saying why: a test that needs it fails
 * rather than skips.
 */
export async function startContainerd(t: ExecutionContext, files?: ContainerdFiles): Promise<Containerd> {
  const why = cannotRun();
  if (why) throw new Error(`cannot start containerd: ${why}`);
  const f = files ?? await writeContainerdConfig(t);
  const child = spawn('containerd', ['--config', f.configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr = (stderr + d).slice(-8000); });
  const spawnError = new Promise<Error>((res) => child.once('error', res));
  t.teardown(() => stopProcess(child, 10_000));
  const ctr = (args: readonly string[]) => run('ctr', ['-a', f.socket, ...args], { timeout: 60_000 });
  const deadline = Date.now() + 20_000;
  for (;;) {
    const failed = await Promise.race([spawnError, new Promise<undefined>((r) => setTimeout(r, 200, undefined))]);
    if (failed) throw new Error(`cannot start containerd (${failed.message}); install Debian's containerd package (scripts/test-deps.sh)`);
    if (child.exitCode !== null) throw new Error(`containerd exited (${child.exitCode}) at start: ${stderr}`);
    if (await ctr(['version']).then(() => true, () => false)) break;
    if (Date.now() > deadline) throw new Error(`containerd did not answer on ${f.socket} within 20 s: ${stderr}`);
  }
  return { ...f, pid: child.pid!, ctr };
}
