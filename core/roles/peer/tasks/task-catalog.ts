import type { StorageMedium, TaskRecord } from '../../../contracts/storage-medium.js';
import { D7yError } from '../../../errors/d7y-error.js';
import type { Logger } from '../../../logging/logger.js';
import { LinkedContentGuard } from './linked-content-guard.js';
import { TaskState } from './task-state.js';

/** The most task states kept in memory besides running ones. */
const MAX_IDLE_STATES = 1024;

/**
 * What this peer holds: the in-memory state of each task, loaded from the storage medium on first
 * use and shared by every part of the peer (downloads add pieces to it, uploads and the APIs read
 * it). Idle states beyond a bound are dropped from memory (never from the medium).
 * A task whose content file is hard-linked at an output path is checked before every `state` and
 * `find` (see LinkedContentGuard): a user's edit of that file is never served nor reused.
 */
export class TaskCatalog {
  private readonly states = new Map<string, TaskState>();
  /** Guards tasks whose content file is hard-linked at an output path. */
  readonly linked: LinkedContentGuard;

  constructor(readonly medium: StorageMedium, logger?: Logger) {
    this.linked = new LinkedContentGuard(medium, (s) => this.reset(s), logger);
  }

  /** The task's in-memory state, loaded from the medium on first use (a new, empty one when unknown). */
  async state(taskId: string): Promise<TaskState> {
    const s = await this.load(taskId);
    await this.linked.check(s);
    return s;
  }

  private async load(taskId: string): Promise<TaskState> {
    let s = this.states.get(taskId);
    if (s) {
      this.states.delete(taskId);
      this.states.set(taskId, s);
      return s;
    }
    s = new TaskState(taskId);
    const record = await this.medium.getTask(taskId);
    if (record) {
      s.record = record;
      for (const p of await this.medium.listPieces(taskId)) s.pieces.set(p.number, { ...p, createdAt: record.createdAt });
    }
    const raced = this.states.get(taskId);
    if (raced) return raced;
    this.states.set(taskId, s);
    this.trim();
    return s;
  }

  /** The state when the task is known to this peer (held or running), else undefined. */
  async find(taskId: string): Promise<TaskState | undefined> {
    const s = this.states.get(taskId);
    if (s) {
      await this.linked.check(s);
      return s;
    }
    if (!(await this.medium.getTask(taskId))) return undefined;
    return this.state(taskId);
  }

  /**
   * The states of every task the medium holds, as recorded: a listing is not a use, so a task whose
   * hard-linked output changed is not read back here (its next use re-verifies it).
   */
  async list(): Promise<TaskState[]> {
    const out: TaskState[] = [];
    for (const rec of await this.medium.listTasks()) {
      const s = await this.load(rec.taskId);
      if (s.record) out.push(s); // gone since the medium listed it
    }
    return out;
  }

  /**
   * The records of the finished tasks the medium holds, with a known length (what this peer can
   * serve whole), read without loading their pieces.
   */
  async finished(): Promise<Array<TaskRecord & { contentLength: number }>> {
    const records = await this.medium.listTasks();
    return records.filter((r): r is TaskRecord & { contentLength: number } => r.finished && r.contentLength !== undefined);
  }

  /** Forgets the task here: its pieces and record are deleted from the medium. Refused while it downloads. */
  async delete(taskId: string): Promise<boolean> {
    const s = this.states.get(taskId);
    const existed = Boolean(s?.record) || Boolean(await this.medium.getTask(taskId));
    if (s?.running) throw new D7yError('D7Y_CONFLICT', `task ${taskId} is downloading`, { fix: 'wait for the download to end, then delete it' });
    this.states.delete(taskId);
    await this.medium.deleteTask(taskId);
    return existed;
  }

  /** Drops a task that could not be kept (a failed download's partial content): medium and memory. */
  async discard(state: TaskState): Promise<void> {
    await this.reset(state).catch(() => undefined);
    if (this.states.get(state.taskId) === state) this.states.delete(state.taskId);
  }

  /** Empties a task in place (its content is stale): its pieces and record leave the medium; the state stays shared. */
  async reset(state: TaskState): Promise<void> {
    state.pieces.clear();
    state.record = undefined;
    await this.medium.deleteTask(state.taskId);
  }

  private trim(): void {
    if (this.states.size <= MAX_IDLE_STATES) return;
    for (const [id, s] of this.states) {
      if (this.states.size <= MAX_IDLE_STATES) break;
      if (!s.running && s.listenerCount('piece') === 0) this.states.delete(id);
    }
  }
}
