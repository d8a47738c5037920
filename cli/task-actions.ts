import { checkTaskId } from '../core/task/task-id.js';
import type { PeerApi } from '../core/protocol/local-api/peer-api.js';
import { connectPeer, type PeerConnectionOptions } from './peer-connection.js';
import { humanBytes, renderTable } from './table.js';

/** Options of `d7y task ls|stat|rm`: which peer, and the output form. */
export interface TaskCommandOptions extends PeerConnectionOptions {
  json?: boolean;
}

/** A task as the peer's local API describes it (see PeerApi.stat and list). */
interface TaskView {
  taskId: string;
  url?: string;
  contentLength?: number;
  pieceLength?: number;
  pieceCount?: number;
  heldPieces: number;
  finished: boolean;
  running: boolean;
  createdAt?: number;
  lastAccessedAt?: number;
  trafficTypes: Record<string, number>;
  parentIds: string[];
  medium?: string;
}

const TRAFFIC_TYPES = ['back-to-source', 'remote-peer', 'local-peer'];

/** The id as given, lower-cased (hex is hex), refused before any peer starts when it is not a task id. */
function taskIdArg(id: string): string {
  const lower = id.trim().toLowerCase();
  checkTaskId(lower);
  return lower;
}

async function withPeer<T>(opts: PeerConnectionOptions, purpose: string, use: (peer: PeerApi) => Promise<T>): Promise<T> {
  const peer = await connectPeer(opts, purpose);
  try {
    return await use(peer);
  } finally {
    await peer.close();
  }
}

function when(ms: number | undefined): string {
  return ms === undefined ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function pieces(t: TaskView): string {
  return `${t.heldPieces}/${t.pieceCount ?? '?'}`;
}

function state(t: TaskView): string {
  return t.running ? 'downloading' : t.finished ? 'yes' : 'no';
}

function json(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** `d7y task ls`: the tasks the local peer holds, most recently used first. */
export async function listTasks(opts: TaskCommandOptions): Promise<void> {
  const tasks = (await withPeer(opts, 'listing tasks', (peer) => peer.list()) as unknown as TaskView[])
    .sort((a, b) => (b.lastAccessedAt ?? 0) - (a.lastAccessedAt ?? 0));
  if (opts.json) return json(tasks);
  if (!tasks.length) {
    process.stdout.write('no tasks on this peer\n');
    return;
  }
  process.stdout.write(renderTable(['TASK ID', 'SIZE', 'PIECES', 'FINISHED', 'LAST ACCESS', 'URL'],
    tasks.map((t) => [t.taskId, humanBytes(t.contentLength), pieces(t), state(t), when(t.lastAccessedAt), t.url ?? '-'])));
}

/** `d7y task stat <id>`: one task's fields and where its pieces came from. */
export async function statTask(id: string, opts: TaskCommandOptions): Promise<void> {
  const taskId = taskIdArg(id);
  const task = await withPeer(opts, 'reading the task', (peer) => peer.stat(taskId)) as unknown as TaskView & { pieces?: unknown[] };
  if (opts.json) return json(task);
  const traffic = [...TRAFFIC_TYPES, ...Object.keys(task.trafficTypes).filter((k) => !TRAFFIC_TYPES.includes(k))]
    .map((k) => `${k === 'stored' ? 'kept from an earlier run' : k} ${task.trafficTypes[k] ?? 0}`).join(', ');
  const rows = [
    ['task id', task.taskId],
    ['url', task.url ?? '-'],
    ['size', task.contentLength === undefined ? '-' : `${humanBytes(task.contentLength)} (${task.contentLength} bytes)`],
    ['piece length', humanBytes(task.pieceLength)],
    ['pieces', `${pieces(task)} held`],
    ['pieces by source', traffic],
    ['parents', task.parentIds.length ? task.parentIds.join(', ') : '-'],
    ['finished', state(task)],
    ['created', when(task.createdAt)],
    ['last access', when(task.lastAccessedAt)],
    ['storage', task.medium ?? '-'],
  ];
  process.stdout.write(rows.map(([k, v]) => `${k.padEnd(18)}${v}\n`).join(''));
}

/** `d7y task rm <id>`: deletes the task's pieces and record from the local peer. */
export async function removeTask(id: string, opts: TaskCommandOptions): Promise<void> {
  const taskId = taskIdArg(id);
  const task = await withPeer(opts, 'removing the task', async (peer) => {
    const held = await peer.stat(taskId) as unknown as TaskView;
    await peer.delete(taskId);
    return held;
  });
  process.stdout.write(`removed task ${taskId} (${task.url ?? 'no url'}, ${task.heldPieces} pieces, ${humanBytes(task.contentLength)})\n`);
}
