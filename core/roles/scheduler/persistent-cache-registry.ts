import { D7yError } from '../../errors/d7y-error.js';
import type { PersistentCacheTask } from '../../protocol/rpc/gen/scheduler-persistent-cache.js';
import { hostMessage } from './proto-mapping.js';
import type { HostRecord } from './resource/records.js';

/** What a persistent-cache task is, without who holds it. */
export type CacheTaskFacts = Omit<PersistentCacheTask, 'holders' | 'currentPersistentReplicaCount' | 'currentReplicaCount'>;

interface Holder {
  persistent: boolean;
  since: number;
}

interface CacheTaskEntry {
  facts: CacheTaskFacts;
  holders: Map<string, Holder>;
  /** Hosts asked to fetch a replica, with when they were asked. */
  placing: Map<string, number>;
  /** Hosts that could not take a replica, until when they are passed over. */
  refused: Map<string, number>;
}

/** What the registry learnt of a host from its persistent-cache announces. */
interface HostRoom {
  diskFreeBytes: number;
  seenAt: number;
}

/** A replica to place: ask `host` to fetch (or pin) `taskId`. */
export interface Placement {
  taskId: string;
  host: HostRecord;
  contentLength: number;
}

export interface PersistentCacheLimits {
  /** A holder without an announce for this long is counted lost. */
  holderTtl: number;
  /** A host asked for a replica that does not hold it after this long is asked no more. */
  placementTimeout: number;
  /** Tasks kept at most. */
  maxTasks: number;
}

/** Ids forgotten (deleted, expired) remembered at most, so a late holder is told to drop its copy. */
const MAX_TOMBSTONES = 10_000;
/** How long an expired id is remembered (so it reads as expired, not unknown). */
const EXPIRED_KEPT_MS = 24 * 3600_000;
/** A host that refused a replica is passed over for the task this long. */
const REFUSED_MS = 60_000;
/** A copy announced as held this recently is not dropped by an announce that predates it. */
const FRESH_HOLDER_MS = 5_000;

/**
 * The persistent-cache tasks of one scheduler: each task's facts, its holders (hosts that hold a
 * copy, persistent or not), the replicas being placed, and the ids deleted or expired (kept until
 * their TTL, bounded) so a holder that comes back late is told to drop its copy. In memory; a
 * restarted scheduler learns it all again from its peers' announces. Pure bookkeeping: `tick`
 * says what to place and what to delete, the caller does it.
 */
export class PersistentCacheRegistry {
  private readonly tasks = new Map<string, CacheTaskEntry>();
  private readonly rooms = new Map<string, HostRoom>();
  private readonly tombstones = new Map<string, { reason: 'deleted' | 'expired'; until: number }>();

  constructor(private readonly limits: PersistentCacheLimits) {}

  get size(): number {
    return this.tasks.size;
  }

  has(taskId: string): boolean {
    return this.tasks.has(taskId);
  }

  /** An import started: the id is reserved (a deleted id may be imported again). */
  started(facts: CacheTaskFacts, now: number): void {
    this.tombstones.delete(facts.id);
    if (this.tasks.has(facts.id)) return;
    this.checkRoom(facts.id);
    this.tasks.set(facts.id, { facts: { ...facts, state: 'pending', createdAt: now, updatedAt: now }, holders: new Map(), placing: new Map(), refused: new Map() });
  }

  /** An import finished on `hostId`: it holds a persistent copy. */
  finished(hostId: string, facts: CacheTaskFacts, now: number, hostOf: (id: string) => HostRecord | undefined): PersistentCacheTask {
    this.tombstones.delete(facts.id);
    const entry = this.upsert(facts, now);
    entry.facts = { ...facts, state: 'succeeded', updatedAt: now };
    entry.holders.set(hostId, { persistent: true, since: now });
    return this.view(entry, hostOf);
  }

  /**
   * An import failed on `hostId` (a task nobody holds is forgotten), or a replica placed there could
   * not be fetched (a bad copy, no room): that host is passed over for the task for a while, and the
   * next check places the replica elsewhere. Says which of the two it was.
   */
  failed(taskId: string, hostId: string, now: number): 'import' | 'replica' | undefined {
    const entry = this.tasks.get(taskId);
    if (!entry) return undefined;
    if (entry.holders.size === 0) {
      this.tasks.delete(taskId);
      return 'import';
    }
    if (!entry.placing.has(hostId) || entry.holders.get(hostId)?.persistent) return undefined;
    this.refused(taskId, hostId, now);
    return 'replica';
  }

  /**
   * A host's announce: its room and the copies it holds (and is fetching). Copies of unknown tasks
   * recreate them (after a scheduler restart); copies of deleted or expired tasks are returned, for
   * the host to remove.
   */
  announce(hostId: string, diskFreeBytes: number, held: { task: CacheTaskFacts; persistent: boolean }[], fetching: string[], now: number): string[] {
    this.rooms.set(hostId, { diskFreeBytes, seenAt: now });
    const removed: string[] = [];
    const heldIds = new Set<string>();
    for (const { task, persistent } of held) {
      if (this.tombstones.has(task.id) || task.createdAt + task.ttl <= now) {
        removed.push(task.id);
        continue;
      }
      heldIds.add(task.id);
      const entry = this.upsert({ ...task, state: 'succeeded' }, now);
      const was = entry.holders.get(hostId);
      entry.holders.set(hostId, { persistent: persistent || false, since: was?.since ?? now });
      if (persistent) entry.placing.delete(hostId);
      // A host that refused a replica (for one, while an export of the same task was fetching it)
      // and now announces the bytes whole can be promoted: no fetch is needed.
      if (!was) entry.refused.delete(hostId);
    }
    for (const id of fetching) if (this.tombstones.has(id)) removed.push(id);
    for (const [id, entry] of this.tasks) {
      const h = entry.holders.get(hostId);
      if (h && !heldIds.has(id) && now - h.since > FRESH_HOLDER_MS) entry.holders.delete(hostId);
      // A placement the host neither fetches nor holds pinned is over (the host may hold an unpinned
      // copy, say from an export that was fetching when it was asked): the next check asks again.
      if (entry.placing.has(hostId) && !fetching.includes(id) && now - entry.placing.get(hostId)! > FRESH_HOLDER_MS) {
        entry.placing.delete(hostId);
      }
    }
    return removed;
  }

  /** A host confirmed it holds a persistent copy (a placement that found the copy already there). */
  holds(taskId: string, hostId: string, now: number): void {
    const entry = this.tasks.get(taskId);
    if (!entry) return;
    entry.placing.delete(hostId);
    entry.holders.set(hostId, { persistent: true, since: entry.holders.get(hostId)?.since ?? now });
  }

  /** A host could not take a replica: it is passed over for this task for a while. */
  refused(taskId: string, hostId: string, now: number): void {
    const entry = this.tasks.get(taskId);
    if (!entry) return;
    entry.placing.delete(hostId);
    entry.refused.set(hostId, now + REFUSED_MS);
  }

  /** The task with its holders; D7Y_TASK_NOT_FOUND saying whether it was deleted, expired or never known. */
  stat(taskId: string, hostOf: (id: string) => HostRecord | undefined): PersistentCacheTask {
    const entry = this.tasks.get(taskId);
    if (!entry) throw this.notFound(taskId);
    return this.view(entry, hostOf);
  }

  list(hostOf: (id: string) => HostRecord | undefined): PersistentCacheTask[] {
    return [...this.tasks.values()].map((e) => this.view(e, hostOf)).sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Forgets the task; returns the hosts holding (or fetching) it, to be told to delete their copies. */
  delete(taskId: string, now: number): string[] {
    const entry = this.tasks.get(taskId);
    if (!entry) throw this.notFound(taskId);
    this.tasks.delete(taskId);
    this.bury(taskId, 'deleted', entry.facts.createdAt + entry.facts.ttl, now);
    return [...new Set([...entry.holders.keys(), ...entry.placing.keys()])];
  }

  /**
   * One pass: expires tasks past their TTL (their holders to be told), drops holders that are gone
   * (`live` says no, or no announce for holderTtl) and placements past their time-out, and chooses
   * hosts for missing replicas: first non-persistent holders (pinned in place), then other live
   * hosts with room, most free disk and idle upload bandwidth first.
   */
  tick(now: number, live: (hostId: string) => HostRecord | undefined, hosts: Iterable<HostRecord>): { expired: { taskId: string; holders: string[] }[]; placements: Placement[] } {
    const expired: { taskId: string; holders: string[] }[] = [];
    const placements: Placement[] = [];
    for (const [id, until] of [...this.tombstones]) if (until.until <= now) this.tombstones.delete(id);
    for (const [hostId, room] of [...this.rooms]) if (now - room.seenAt > this.limits.holderTtl * 4) this.rooms.delete(hostId);
    const candidates = [...hosts].filter((h) => this.isFresh(h.id, now));
    for (const [id, entry] of [...this.tasks]) {
      const f = entry.facts;
      if (f.createdAt + f.ttl <= now) {
        this.tasks.delete(id);
        this.bury(id, 'expired', now + EXPIRED_KEPT_MS, now);
        expired.push({ taskId: id, holders: [...new Set([...entry.holders.keys(), ...entry.placing.keys()])] });
        continue;
      }
      for (const [hostId, h] of [...entry.holders]) {
        if (!live(hostId) || (!this.isFresh(hostId, now) && now - h.since > FRESH_HOLDER_MS)) entry.holders.delete(hostId);
      }
      for (const [hostId, at] of [...entry.placing]) {
        if (!live(hostId) || now - at > this.limits.placementTimeout) entry.placing.delete(hostId);
      }
      for (const [hostId, until] of [...entry.refused]) if (until <= now) entry.refused.delete(hostId);
      if (f.state !== 'succeeded') {
        if (entry.holders.size === 0 && now - f.updatedAt > this.limits.placementTimeout) this.tasks.delete(id);
        continue;
      }
      if (entry.holders.size === 0) continue;
      let missing = f.persistentReplicaCount - [...entry.holders.values()].filter((h) => h.persistent).length - entry.placing.size;
      if (missing <= 0) continue;
      const promotable = [...entry.holders].filter(([hostId, h]) => !h.persistent && !entry.refused.has(hostId)).map(([hostId]) => live(hostId)!);
      const others = this.rank(candidates.filter((h) => !entry.holders.has(h.id) && !entry.placing.has(h.id) && !entry.refused.has(h.id)
        && (this.rooms.get(h.id)?.diskFreeBytes ?? 0) > f.contentLength));
      for (const host of [...promotable, ...others]) {
        if (missing <= 0) break;
        entry.placing.set(host.id, now);
        placements.push({ taskId: id, host, contentLength: f.contentLength });
        missing -= 1;
      }
    }
    return { expired, placements };
  }

  /** The host announced its persistent cache within holderTtl (a placement may go to it). */
  isFresh(hostId: string, now: number): boolean {
    const room = this.rooms.get(hostId);
    return room !== undefined && now - room.seenAt <= this.limits.holderTtl;
  }

  /** Most free disk and idle upload bandwidth first (each scaled to the best candidate's). */
  private rank(hosts: HostRecord[]): HostRecord[] {
    const idle = (h: HostRecord) => Math.max(0, h.maxUploadBps - h.uploadBpsLast60s);
    const free = (h: HostRecord) => this.rooms.get(h.id)?.diskFreeBytes ?? 0;
    const maxIdle = Math.max(1, ...hosts.map(idle));
    const maxFree = Math.max(1, ...hosts.map(free));
    const score = (h: HostRecord) => 0.5 * (idle(h) / maxIdle) + 0.5 * (free(h) / maxFree);
    return [...hosts].sort((a, b) => score(b) - score(a) || (a.id < b.id ? -1 : 1));
  }

  private upsert(facts: CacheTaskFacts, now: number): CacheTaskEntry {
    let entry = this.tasks.get(facts.id);
    if (!entry) {
      this.checkRoom(facts.id);
      entry = { facts: { ...facts, updatedAt: now }, holders: new Map(), placing: new Map(), refused: new Map() };
      this.tasks.set(facts.id, entry);
    }
    return entry;
  }

  private checkRoom(taskId: string): void {
    if (this.tasks.size >= this.limits.maxTasks) {
      throw new D7yError('D7Y_RATE_LIMITED', `the scheduler keeps ${this.tasks.size} persistent-cache tasks, its limit; ${taskId} refused`, {
        fix: 'remove tasks no longer needed (d7y cache rm), or raise scheduler.persistentCache.maxTasks',
      });
    }
  }

  private bury(taskId: string, reason: 'deleted' | 'expired', until: number, now: number): void {
    this.tombstones.set(taskId, { reason, until: Math.max(until, now + this.limits.holderTtl * 4) });
    if (this.tombstones.size > MAX_TOMBSTONES) this.tombstones.delete(this.tombstones.keys().next().value!);
  }

  private notFound(taskId: string): D7yError {
    const gone = this.tombstones.get(taskId);
    if (gone?.reason === 'expired') {
      return new D7yError('D7Y_TASK_NOT_FOUND', `persistent cache task ${taskId} has expired: its TTL ran out and every copy was removed`, {
        fix: 'import the file again (d7y cache import), with a longer --ttl if needed',
      });
    }
    if (gone?.reason === 'deleted') {
      return new D7yError('D7Y_TASK_NOT_FOUND', `persistent cache task ${taskId} was deleted`, { fix: 'import the file again (d7y cache import)' });
    }
    return new D7yError('D7Y_TASK_NOT_FOUND', `no persistent cache task ${taskId} in the cluster`, {
      fix: 'check the id (d7y cache list shows the tasks), or import the file first (d7y cache import)',
    });
  }

  private view(entry: CacheTaskEntry, hostOf: (id: string) => HostRecord | undefined): PersistentCacheTask {
    // A holder whose host has left the cluster (until the next check drops it) is neither listed nor counted.
    const holders = [...entry.holders].flatMap(([hostId, h]) => {
      const host = hostOf(hostId);
      return host ? [{ host: hostMessage(host), persistent: h.persistent, since: h.since }] : [];
    });
    return {
      ...entry.facts,
      currentPersistentReplicaCount: holders.filter((h) => h.persistent).length,
      currentReplicaCount: holders.filter((h) => !h.persistent).length,
      holders,
    };
  }
}
