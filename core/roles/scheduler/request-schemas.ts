import { z } from 'zod';
import { D7yError } from '../../errors/d7y-error.js';

const id = (what: string) => z.string().min(1, `${what} is empty`).max(512, `${what} is longer than 512 characters`)
  .regex(/^[\w.:@|\-[\]/]+$/, `${what} has characters other than letters, digits and . _ - : @ | [ ] /`);

const port = z.number().int().min(1, 'must be a port 1-65535').max(65535, 'must be a port 1-65535');

export const HostSchema = z.object({
  id: id('host.id'),
  ip: z.union([z.ipv4(), z.ipv6()], { error: 'host.ip is not an IPv4 or IPv6 address' }),
  hostname: z.string().min(1, 'host.hostname is empty').max(255),
  type: z.number().int().min(0).max(1, 'host.type must be NORMAL (0) or SUPER (1)'),
  idc: z.string().max(255),
  location: z.string().max(1024),
  uploadPort: port,
  rpcPort: port,
  maxTxBps: z.number().min(0),
  txBps60s: z.number().min(0),
  concurrentUploads: z.number().int().min(0),
  uploadLimit: z.number().int().min(0),
});

export const AnnounceHostSchema = z.object({
  host: HostSchema.optional().refine((h) => h !== undefined, 'host is missing'),
  interval: z.number().int().min(0),
});

export const PeerIdsSchema = z.object({
  hostId: id('host_id'),
  taskId: id('task_id'),
  peerId: id('peer_id'),
});

export const DownloadSchema = z.object({
  url: z.string().min(1, 'download.url is empty').max(8192).refine((u) => URL.canParse(u), 'download.url is not a valid URL'),
  pieceLength: z.number().int().min(1).optional(),
  contentLength: z.number().int().min(0).optional(),
});

export const PieceSchema = z.object({
  number: z.number().int().min(0),
  parentId: z.string().max(512).optional(),
  length: z.number().int().min(0),
  cost: z.number().min(0),
});

/** Tasks in one AnnounceHeldTasks call, at most. */
export const MAX_HELD_TASKS_PER_CALL = 1000;

export const AnnounceHeldTasksSchema = z.object({
  hostId: id('host_id'),
  tasks: z.array(z.object({
    taskId: id('task_id'),
    peerId: id('peer_id'),
    download: DownloadSchema.optional().refine((d) => d !== undefined, 'download is missing'),
    contentLength: z.number().int().min(0),
    pieceLength: z.number().int().min(0),
    pieceCount: z.number().int().min(1, 'piece_count must be at least 1 (a held task is finished)'),
  })).max(MAX_HELD_TASKS_PER_CALL, `at most ${MAX_HELD_TASKS_PER_CALL} tasks per call`),
});

export const TaskIdSchema = z.object({ taskId: id('task_id') });
export const StatPeerSchema = z.object({ taskId: id('task_id'), peerId: id('peer_id') });
export const HostIdSchema = z.object({ hostId: id('host_id') });

/** Parses `value` with `schema`, or throws D7Y_INVALID_ARGUMENT naming every field at fault. */
export function parseRequest<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => {
    const path = i.path.map(String).join('.');
    return path && !i.message.includes(path.split('.').pop()!) ? `${path}: ${i.message}` : i.message;
  });
  throw new D7yError('D7Y_INVALID_ARGUMENT', `invalid ${what}: ${problems.join('; ')}`, {
    fix: 'send the fields the scheduler protocol requires (core/protocol/rpc/*.proto)',
  });
}
