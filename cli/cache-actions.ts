import { resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { D7yError } from '../core/errors/d7y-error.js';
import type { CacheEvent, CacheTaskView } from '../core/protocol/local-api/cache-api.js';
import { LocalCacheClient } from '../core/protocol/local-api/local-cache-client.js';
import { socketAnswers } from '../core/protocol/local-api/socket-answers.js';
import { parseByteSize, validatePieceLength } from '../core/task/piece-length.js';
import { formatDuration } from '../core/config/units.js';
import { parseDurationFlag } from './duration-flag.js';
import { defaultPeerSocket } from './peer-socket.js';
import { humanBytes, renderTable } from './table.js';
import { humanSpeed, SpeedMeter } from './get-progress.js';

/** Which daemon the cache commands talk to, and the output form. */
export interface CacheCommandOptions {
  socket?: string;
  config?: string;
  dataDir?: string;
  json?: boolean;
}

export interface CacheImportOptions extends CacheCommandOptions {
  id?: string;
  replicas: string;
  ttl: string;
  tag?: string;
  application?: string;
  pieceLength?: string;
  progress: boolean;
}

export interface CacheExportOptions extends CacheCommandOptions {
  output: string;
  overwrite?: boolean;
  timeout?: string;
  progress: boolean;
}

/** The grammar's widest TTL; the daemon checks its own range (persistent-cache minTtl..maxTtl). */
export const MAX_TTL_FLAG = 365 * 24 * 3600_000;

/** The daemon's socket: --socket, else the one the config or data dir names, else the default one. */
async function cacheClient(opts: CacheCommandOptions): Promise<LocalCacheClient> {
  let socket = opts.socket;
  if (socket === undefined && (opts.config !== undefined || opts.dataDir !== undefined)) {
    const { loadRoleConfig } = await import('./role-options.js');
    const { peerSocketPath } = await import('../core/config/paths.js');
    const config = await loadRoleConfig({ config: opts.config, dataDir: opts.dataDir });
    socket = peerSocketPath(config.dataDir, config.peer);
  }
  socket = resolve(socket ?? defaultPeerSocket());
  if (!(await socketAnswers(socket))) {
    throw new D7yError('D7Y_PEER_UNAVAILABLE', `no d7y daemon is listening on ${socket}`, {
      fix: 'start one with `d7y up` (or `d7y peer`): the persistent cache lives in a running peer; or point --socket at it',
    });
  }
  return new LocalCacheClient(socket);
}

/** Runs `use` with a client of the daemon, closed afterwards. */
export async function withClient<T>(opts: CacheCommandOptions, use: (c: LocalCacheClient) => Promise<T>): Promise<T> {
  const client = await cacheClient(opts);
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}

function replicasFlag(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 1000) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `--replicas ${text} is not a whole number from 1 to 1000`, { fix: 'give --replicas 1 or more, e.g. --replicas 2' });
  }
  return n;
}

export async function importCache(path: string, opts: CacheImportOptions): Promise<void> {
  const req = {
    path: resolve(path), id: opts.id, replicas: replicasFlag(opts.replicas), ttlMs: parseDurationFlag(opts.ttl, '--ttl', { max: MAX_TTL_FLAG }),
    tag: opts.tag, application: opts.application,
    pieceLength: opts.pieceLength === undefined ? undefined : validatePieceLength(parseByteSize(opts.pieceLength, '--piece-length'), { min: 1 }),
  };
  const bar = await progressBar(opts.progress && !opts.json);
  const task = await withClient(opts, (c) => c.import(req, bar.onEvent)).finally(() => bar.stop());
  if (opts.json) return json(task);
  process.stdout.write(`${opts.id ?? task.taskId}\n`);
  const replicas = task.currentReplicas === undefined ? 'no scheduler: this peer only' : `${task.currentReplicas} of ${task.replicas} held, the rest being placed`;
  process.stderr.write(`d7y: imported ${humanBytes(task.contentLength)} as ${task.taskId} (replicas: ${replicas}; expires in ${formatDuration(task.ttlMs)})\n`);
}

export async function exportCache(id: string, opts: CacheExportOptions): Promise<void> {
  const timeoutMs = opts.timeout === undefined ? undefined : parseDurationFlag(opts.timeout, '--timeout');
  const bar = await progressBar(opts.progress && !opts.json && opts.output !== '-');
  await withClient(opts, async (c) => {
    if (opts.output !== '-') {
      const output = resolve(opts.output);
      const task = await c.export({ id, output, overwrite: opts.overwrite, timeoutMs }, bar.onEvent).finally(() => bar.stop());
      if (opts.json) json(task);
      else process.stderr.write(`d7y: wrote ${humanBytes(task.contentLength)} of ${task.taskId} to ${output}\n`);
      return;
    }
    await c.export({ id, timeoutMs });
    await pipeline(await c.stream(id), process.stdout);
  });
}

export async function statCache(id: string, opts: CacheCommandOptions): Promise<void> {
  const t = await withClient(opts, (c) => c.stat(id));
  if (opts.json) return json(t);
  const rows: [string, string][] = [
    ['task id', t.taskId], ...(t.name ? [['name', t.name] as [string, string]] : []),
    ['size', `${humanBytes(t.contentLength)} (${t.contentLength} bytes)`], ['pieces', `${t.pieceCount} of ${humanBytes(t.pieceLength)}`],
    ['digest', t.digest || '-'], ['replicas', t.currentReplicas === undefined ? `${t.replicas} asked (no scheduler)` : `${t.currentReplicas} of ${t.replicas}`],
    ['holders', (t.holders ?? []).map((h) => `${h.hostname} (${h.ip})${h.persistent ? '' : ' [export copy]'}`).join(', ') || '-'],
    ['held here', t.heldHere ? 'yes' : 'no'], ['ttl left', formatDuration(Math.max(0, t.expiresAt - Date.now()))],
    ['created', new Date(t.createdAt).toISOString()], ['expires', new Date(t.expiresAt).toISOString()],
  ];
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(10)} ${v}\n`);
}

export async function removeCache(id: string, opts: CacheCommandOptions): Promise<void> {
  const r = await withClient(opts, (c) => c.remove(id));
  if (opts.json) return json(r);
  process.stdout.write(`removed ${r.taskId} (${r.removedCopies} cop${r.removedCopies === 1 ? 'y' : 'ies'} told to go)\n`);
}

export async function listCache(opts: CacheCommandOptions): Promise<void> {
  const tasks = await withClient(opts, (c) => c.list());
  if (opts.json) return json(tasks);
  process.stdout.write(renderTable(['TASK ID', 'NAME', 'SIZE', 'REPLICAS', 'TTL LEFT', 'CREATED'], tasks.map((t: CacheTaskView) => [
    t.taskId, t.name ?? '-', humanBytes(t.contentLength), t.currentReplicas === undefined ? `-/${t.replicas}` : `${t.currentReplicas}/${t.replicas}`,
    formatDuration(Math.max(0, t.expiresAt - Date.now())), new Date(t.createdAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
  ])));
}

function json(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A bar on a terminal for import (hashing, then writing) and export; nothing elsewhere. */
async function progressBar(enabled: boolean): Promise<{ onEvent: (ev: CacheEvent) => void; stop: () => void }> {
  if (!enabled || !process.stderr.isTTY) return { onEvent: () => undefined, stop: () => undefined };
  const { default: cliProgress } = await import('cli-progress');
  const bar = new cliProgress.SingleBar({
    stream: process.stderr, hideCursor: true, clearOnComplete: true, format: '{phase} [{bar}] {percentage}% | {done} of {size} | {speed}',
  }, cliProgress.Presets.shades_classic);
  let phase = '';
  let speed = new SpeedMeter();
  return {
    onEvent: (ev) => {
      if (ev.event !== 'progress') return;
      if (ev.phase !== phase) {
        if (phase) bar.stop();
        phase = ev.phase;
        speed = new SpeedMeter();
        bar.start(ev.total, 0, { phase, done: '0 B', size: humanBytes(ev.total), speed: '-' });
      }
      speed.add(ev.bytes);
      bar.update(ev.bytes, { phase, done: humanBytes(ev.bytes), size: humanBytes(ev.total), speed: humanSpeed(speed.rate()) });
    },
    stop: () => { if (phase) bar.stop(); },
  };
}
