import type { AnnouncedPiece, HeldPiece, TaskState } from '../tasks/task-state.js';

export interface SeedOffersOptions {
  /** Pieces of one task offered and not yet delivered, across all its children. */
  inFlight: number;
  /** Milliseconds an offered piece stays reserved for its child before it may be offered to another. */
  grantTtlMs: number;
}

interface Grant {
  stream: Offering;
  at: number;
  delivered: boolean;
}

interface TaskOffers {
  grants: Map<number, Grant>;
  streams: Set<Offering>;
  hosts: Set<string>;
  usedAt: number;
}

/** One child's first piece-sync stream with this seed, answered by offers. */
export interface OfferStream {
  readonly hostId: string;
  /** Stops offering on this stream; its offers go back to the pool. */
  close(): void;
}

interface Offering extends OfferStream {
  /** Offers the lowest piece this stream may have; false when there is none. */
  offer(now: number): boolean;
  /** Offers not yet delivered (and not timed out). */
  pending(now: number): number;
  lastOfferAt: number;
}

/** A task nobody has synced with for this long is forgotten (its children have long finished). */
const FORGET_AFTER_MS = 10 * 60_000;

/**
 * Super-seeding for a seed peer: its upload is the origin side's, so it sends each piece of a
 * task about once and lets the children spread it. On a child's first SyncPieces stream for a
 * task the seed announces only pieces it has offered to no other child still syncing; at most
 * `inFlight` offers of a task are undelivered at once (the child with the fewest goes first), so
 * pieces land early, one after another, and children can pass them on while the seed sends the
 * next. A piece still arriving from the origin may be offered as soon as its first bytes are
 * written (cut-through): the child streams it as it lands. Once a child's stream ends (it
 * finished, or died) its pieces may be offered again: a later child without other parents is not
 * left waiting. A child that opens another stream (it
 * does so only when its normal parents cannot serve what it lacks) gets every piece it asks for.
 */
export class SeedOffers {
  private readonly tasks = new Map<string, TaskOffers>();

  constructor(private readonly opts: SeedOffersOptions) {}

  /**
   * Starts offering the pieces of `state` in `interested` (all when undefined) to `hostId`
   * through `write`; undefined when this host had a stream for the task before (answer it plainly).
   */
  open(state: TaskState, hostId: string, interested: ReadonlySet<number> | undefined, write: (p: AnnouncedPiece) => void): OfferStream | undefined {
    const task = this.taskOffers(state.taskId);
    if (task.hosts.has(hostId)) return undefined;
    task.hosts.add(hostId);
    const sent = new Set<number>();
    let closed = false;
    const onPiece = (): void => this.fill(task);
    const ttl = this.opts.grantTtlMs;
    // An offer of a piece still arriving holds until the piece is held: its time to be fetched starts then.
    const expired = (n: number, g: Grant, now: number): boolean => !g.delivered && state.pieces.has(n) && now - g.at >= ttl;
    const stream: Offering = {
      hostId,
      lastOfferAt: 0,
      pending: (now) => {
        let count = 0;
        for (const [n, g] of task.grants) if (g.stream === stream && !g.delivered && !expired(n, g, now)) count += 1;
        return count;
      },
      offer: (now) => {
        for (const p of inNumberOrder(state)) {
          if (sent.has(p.number) || (interested && !interested.has(p.number))) continue;
          const g = task.grants.get(p.number);
          if (g && !expired(p.number, g, now)) continue;
          task.grants.set(p.number, { stream, at: now, delivered: false });
          sent.add(p.number);
          stream.lastOfferAt = now;
          write(p);
          return true;
        }
        return false;
      },
      close: () => {
        if (closed) return;
        closed = true;
        clearInterval(timer);
        state.off('piece', onHeld);
        state.off('receiving', onPiece);
        state.off('unreceived', onUnreceived);
        task.streams.delete(stream);
        task.usedAt = Date.now();
        for (const [n, g] of task.grants) if (g.stream === stream) task.grants.delete(n);
        this.fill(task);
      },
    };
    // A piece offered while arriving gets its full time to be fetched once it is held.
    const onHeld = (p: HeldPiece): void => {
      const g = task.grants.get(p.number);
      if (g && !g.delivered) g.at = Date.now();
      this.fill(task);
    };
    // A piece that failed while arriving is offered again once it arrives anew.
    const onUnreceived = (n: number): void => {
      const g = task.grants.get(n);
      if (g && !g.delivered) task.grants.delete(n);
    };
    task.streams.add(stream);
    state.on('piece', onHeld);
    state.on('receiving', onPiece);
    state.on('unreceived', onUnreceived);
    const timer = setInterval(() => this.fill(task), Math.max(100, ttl / 2));
    timer.unref();
    this.fill(task);
    return stream;
  }

  /**
   * Records how the upload of piece `n` ended: delivered, it stays with its child; failed, the
   * offer is withdrawn so the piece can go to another child. Either frees room for the next offer.
   */
  uploaded(taskId: string, n: number, ok: boolean): void {
    const task = this.tasks.get(taskId);
    const g = task?.grants.get(n);
    if (!task || !g || g.delivered) return;
    if (ok) g.delivered = true;
    else task.grants.delete(n);
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

  /** Offers pieces (held, or arriving), the stream with the fewest pending offers first, until `inFlight` are pending. */
  private fill(task: TaskOffers): void {
    const now = Date.now();
    const streams = [...task.streams];
    const pending = new Map(streams.map((s) => [s, s.pending(now)]));
    let total = [...pending.values()].reduce((a, b) => a + b, 0);
    const exhausted = new Set<Offering>();
    while (total < this.opts.inFlight && exhausted.size < streams.length) {
      let best: Offering | undefined;
      for (const s of streams) {
        if (exhausted.has(s)) continue;
        if (!best || pending.get(s)! < pending.get(best)! || (pending.get(s) === pending.get(best) && s.lastOfferAt < best.lastOfferAt)) best = s;
      }
      if (!best) break;
      if (best.offer(now)) {
        pending.set(best, pending.get(best)! + 1);
        total += 1;
      } else exhausted.add(best);
    }
  }
}

/**
 * The pieces the seed holds or has begun to receive (cut-through: a child streams an arriving piece
 * as its bytes land), lowest number first, without sorting when the piece count is known.
 */
function* inNumberOrder(state: TaskState): Generator<AnnouncedPiece> {
  const total = state.totalPieces;
  if (total === undefined) {
    yield* [...state.pieces.values()].sort((a, b) => a.number - b.number);
    return;
  }
  for (let n = 0; n < total; n += 1) {
    const p = state.pieces.get(n) ?? state.relayable(n);
    if (p) yield p;
  }
}
