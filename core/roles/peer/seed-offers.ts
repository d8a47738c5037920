import type { HeldPiece, TaskState } from './task-state.js';

export interface SeedOffersOptions {
  /** Offered pieces not yet fetched, across all children of one task. */
  inFlight: number;
  /** Milliseconds an offered piece stays reserved for its child before it may be offered to another. */
  grantTtlMs: number;
}

interface Grant {
  stream: OfferStream;
  at: number;
  fetched: boolean;
}

interface TaskOffers {
  grants: Map<number, Grant>;
  streams: Set<OfferStream>;
  hosts: Set<string>;
  usedAt: number;
}

/** A task nobody has synced with for this long is forgotten (its children have long finished). */
const FORGET_AFTER_MS = 10 * 60_000;

/** One child's first piece-sync stream with this seed, answered by offers. */
export interface OfferStream {
  readonly hostId: string;
  /** Stops offering on this stream; its offers not yet fetched go back to the pool. */
  close(): void;
}

/**
 * Super-seeding for a seed peer: its upload is the origin side's, so it sends each piece of a
 * task about once and lets the children spread it. On a child's first SyncPieces stream for a
 * task the seed announces only pieces it has offered to no other child still syncing, a few at a
 * time (the task's `inFlight` budget shared by its children, at least one each); the next offer
 * follows once the child fetches one. Once a child's stream ends (it finished, or died) its
 * pieces may be offered again: a later child without other parents is not left waiting. A child
 * that opens another stream (it does so only when its normal parents cannot serve what it
 * lacks) gets every piece it asks for.
 */
export class SeedOffers {
  private readonly tasks = new Map<string, TaskOffers>();

  constructor(private readonly opts: SeedOffersOptions) {}

  /**
   * Starts offering the pieces of `state` in `interested` (all when undefined) to `hostId`
   * through `write`; undefined when this host had a stream for the task before (answer it plainly).
   */
  open(state: TaskState, hostId: string, interested: ReadonlySet<number> | undefined, write: (p: HeldPiece) => void): OfferStream | undefined {
    const task = this.taskOffers(state.taskId);
    if (task.hosts.has(hostId)) return undefined;
    task.hosts.add(hostId);
    const sent = new Set<number>();
    let timer: NodeJS.Timeout | undefined;
    let closed = false;
    const onPiece = (): void => this.fill(task);
    const stream: OfferStream & { offer(now: number): boolean; wants(n: number): boolean; outstanding(now: number): number } = {
      hostId,
      wants: (n) => !sent.has(n) && (!interested || interested.has(n)),
      outstanding: (now) => {
        let count = 0;
        for (const g of task.grants.values()) if (g.stream === stream && !g.fetched && now - g.at < this.opts.grantTtlMs) count += 1;
        return count;
      },
      offer: (now) => {
        for (const p of [...state.pieces.values()].sort((a, b) => a.number - b.number)) {
          if (!stream.wants(p.number)) continue;
          const g = task.grants.get(p.number);
          if (g && (g.fetched || now - g.at < this.opts.grantTtlMs)) continue;
          task.grants.set(p.number, { stream, at: now, fetched: false });
          sent.add(p.number);
          write(p);
          return true;
        }
        return false;
      },
      close: () => {
        if (closed) return;
        closed = true;
        clearInterval(timer);
        state.off('piece', onPiece);
        task.streams.delete(stream);
        task.usedAt = Date.now();
        for (const [n, g] of task.grants) if (g.stream === stream) task.grants.delete(n);
        this.fill(task);
      },
    };
    task.streams.add(stream);
    state.on('piece', onPiece);
    timer = setInterval(() => this.fill(task), Math.max(100, this.opts.grantTtlMs / 2));
    timer.unref();
    this.fill(task);
    return stream;
  }

  /** Records that piece `n` of the task is being sent to a child, freeing room for the next offer. */
  fetched(taskId: string, n: number): void {
    const task = this.tasks.get(taskId);
    const g = task?.grants.get(n);
    if (!task || !g || g.fetched) return;
    g.fetched = true;
    this.fill(task);
  }

  /** Forgets a task (deleted from this peer). */
  forget(taskId: string): void {
    const task = this.tasks.get(taskId);
    if (!task) return;
    for (const s of [...task.streams]) s.close();
    this.tasks.delete(taskId);
  }

  private taskOffers(taskId: string): TaskOffers {
    const now = Date.now();
    for (const [id, t] of this.tasks) if (t.streams.size === 0 && now - t.usedAt > FORGET_AFTER_MS) this.tasks.delete(id);
    let task = this.tasks.get(taskId);
    if (!task) {
      task = { grants: new Map(), streams: new Set(), hosts: new Set(), usedAt: now };
      this.tasks.set(taskId, task);
    }
    task.usedAt = now;
    return task;
  }

  /** Offers pieces round-robin until every stream has its share of the in-flight budget. */
  private fill(task: TaskOffers): void {
    const streams = [...task.streams] as (OfferStream & { offer(now: number): boolean; outstanding(now: number): number })[];
    if (streams.length === 0) return;
    const now = Date.now();
    const share = Math.max(1, Math.floor(this.opts.inFlight / streams.length));
    let progress = true;
    while (progress) {
      progress = false;
      for (const s of streams) {
        if (s.outstanding(now) < share && s.offer(now)) progress = true;
      }
    }
  }
}
