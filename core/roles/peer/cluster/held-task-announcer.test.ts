import test from 'ava';
import type { TaskRecord } from '../../../contracts/storage-medium.js';
import { silentLogger } from '../../../logging/logger.js';
import type { HeldTask } from '../../../protocol/rpc/gen/scheduler.js';
import type { SchedulerClient } from '../../../protocol/rpc/scheduler-client.js';
import type { TaskCatalog } from '../tasks/task-catalog.js';
import { HeldTaskAnnouncer } from './held-task-announcer.js';

const ADDRESSES = ['10.0.0.1:8002', '10.0.0.2:8002'];

/** A scheduler client that records calls, keeps each one open `delayMs`, and routes by the task id's last digit. */
function fakeScheduler(delayMs = 5) {
  const calls: Array<{ address: string; tasks: HeldTask[] }> = [];
  const inFlight = new Map<string, number>();
  let maxInFlight = 0;
  const client = {
    addresses: ADDRESSES,
    addressFor: (taskId: string) => ADDRESSES[parseInt(taskId.slice(-1), 16) % 2]!,
    announceHeldTasks: async (address: string, _hostId: string, tasks: HeldTask[]) => {
      inFlight.set(address, (inFlight.get(address) ?? 0) + 1);
      maxInFlight = Math.max(maxInFlight, inFlight.get(address)!);
      calls.push({ address, tasks });
      await new Promise((r) => setTimeout(r, delayMs));
      inFlight.set(address, inFlight.get(address)! - 1);
      return tasks.length;
    },
  };
  return { client: client as unknown as SchedulerClient, calls, maxInFlight: () => maxInFlight };
}

function catalogOf(records: TaskRecord[]): TaskCatalog {
  return {
    finished: async () => records.filter((r) => r.finished && r.contentLength !== undefined),
    medium: { listPieces: async () => [] },
  } as unknown as TaskCatalog;
}

const record = (i: number, over: Partial<TaskRecord> = {}): TaskRecord => ({
  taskId: i.toString(16).padStart(64, '0'), url: `http://origin.example/${i}`, contentLength: 9 * 1024 * 1024,
  pieceLength: 4 * 1024 * 1024, finished: true, createdAt: 0, lastAccessedAt: 0, ...over,
});

test('thousands of held tasks go in batches, one call in flight per scheduler, without holding up start', async (t) => {
  const scheduler = fakeScheduler();
  const announcer = new HeldTaskAnnouncer({
    catalog: catalogOf(Array.from({ length: 2500 }, (_, i) => record(i))), scheduler: () => scheduler.client,
    hostId: 'h', peerId: 'h-held', batchSize: 100, logger: silentLogger(),
  });
  await announcer.start();
  t.true(scheduler.calls.length <= 2, `start waited for ${scheduler.calls.length} batches`);
  await announcer.idle();
  t.is(scheduler.calls.length, 26, '1250 tasks per scheduler in batches of 100 (13 calls each)');
  t.true(scheduler.calls.every((c) => c.tasks.length <= 100));
  t.is(scheduler.maxInFlight(), 1);
  t.true(scheduler.calls.every((c) => c.tasks.every((task) => scheduler.client.addressFor(task.taskId) === c.address)),
    'each task goes to the scheduler its id hashes to');
  const first = scheduler.calls[0]!.tasks[0]!;
  t.is(first.pieceCount, 3);
  t.is(first.peerId, 'h-held');
  await announcer.stop();
});

test('only finished tasks with content and an origin are announced; a restarted scheduler gets only its own tasks', async (t) => {
  const scheduler = fakeScheduler(0);
  const announcer = new HeldTaskAnnouncer({
    catalog: catalogOf([record(1), record(2), record(3, { finished: false }), record(4, { contentLength: 0 }), record(5, { url: undefined }), record(6)]),
    scheduler: () => scheduler.client, hostId: 'h', peerId: 'h-held', batchSize: 10, logger: silentLogger(),
  });
  await announcer.start();
  await announcer.idle();
  t.deepEqual(scheduler.calls.flatMap((c) => c.tasks.map((task) => parseInt(task.taskId, 16))).sort(), [1, 2, 6]);

  scheduler.calls.length = 0;
  announcer.announce([ADDRESSES[0]!]);
  await announcer.idle();
  t.deepEqual(scheduler.calls.map((c) => c.address), [ADDRESSES[0]]);
  t.deepEqual(scheduler.calls[0]!.tasks.map((task) => parseInt(task.taskId, 16)).sort(), [2, 6]);
  await announcer.stop();
});
