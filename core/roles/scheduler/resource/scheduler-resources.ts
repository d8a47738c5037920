import { D7yError } from '../../../errors/d7y-error.js';
import type { Download } from '../../../protocol/rpc/gen/common.js';
import type { HostRecord, PeerRecord, PeerState, TaskRecord } from './records.js';
import { isAvailable, MAX_BLOCKED_PARENTS, MAX_PIECES_PER_PEER, newTask, PIECE_COST_WINDOW } from './records.js';

export interface ResourceLimits {
  maxHosts: number;
  maxTasks: number;
  maxPeersPerTask: number;
}

export interface GcTtls {
  peerTtl: number;
  taskTtl: number;
}

/** What a GC pass removed. */
export interface GcResult {
  peers: number;
  tasks: number;
  hosts: number;
}

/**
 * Hosts, tasks and peers of one scheduler, in memory, every collection bounded. Keeps each
 * task's peer graph, its available-parent set and its back-to-source set in step with peer states.
 * `onPeerRemoved` is told of every peer removed (to cancel its timers and close its stream).
 */
export class SchedulerResources {
  readonly hosts = new Map<string, HostRecord>();
  readonly tasks = new Map<string, TaskRecord>();

  constructor(
    private readonly limits: ResourceLimits,
    private readonly onPeerRemoved: (peer: PeerRecord) => void = () => {},
  ) {}

  upsertHost(host: Omit<HostRecord, 'peers' | 'uploadSuccessCount' | 'uploadFailedCount'>): HostRecord {
    const existing = this.hosts.get(host.id);
    if (existing) {
      const { peers, uploadSuccessCount, uploadFailedCount } = existing;
      Object.assign(existing, host, { peers, uploadSuccessCount, uploadFailedCount });
      return existing;
    }
    if (this.hosts.size >= this.limits.maxHosts) {
      throw new D7yError('D7Y_RATE_LIMITED', `scheduler holds ${this.hosts.size} hosts, its limit; host ${host.id} refused`, {
        fix: 'raise scheduler.limits.maxHosts or add schedulers',
      });
    }
    const record: HostRecord = { ...host, peers: new Set(), uploadSuccessCount: 0, uploadFailedCount: 0 };
    this.hosts.set(host.id, record);
    return record;
  }

  /** Removes the host and all its peers; returns the number of peers removed. */
  deleteHost(hostId: string): number {
    const host = this.hosts.get(hostId);
    if (!host) return 0;
    let n = 0;
    for (const key of [...host.peers]) {
      const [taskId, peerId] = key.split('/') as [string, string];
      const task = this.tasks.get(taskId);
      const peer = task?.peers.get(peerId);
      if (task && peer) {
        this.deletePeer(task, peer);
        n++;
      }
    }
    this.hosts.delete(hostId);
    return n;
  }

  taskFor(taskId: string, download: Download, now: number): TaskRecord {
    let task = this.tasks.get(taskId);
    if (task) return task;
    if (this.tasks.size >= this.limits.maxTasks) {
      throw new D7yError('D7Y_RATE_LIMITED', `scheduler holds ${this.tasks.size} tasks, its limit; task ${taskId} refused`, {
        fix: 'raise scheduler.limits.maxTasks or add schedulers',
      });
    }
    task = newTask(taskId, download, now);
    this.tasks.set(taskId, task);
    return task;
  }

  /** Adds (or replaces) a peer of the task in state pending. */
  addPeer(task: TaskRecord, host: HostRecord, peerId: string, download: Download, now: number): PeerRecord {
    const old = task.peers.get(peerId);
    if (old) this.deletePeer(task, old);
    if (task.peers.size >= this.limits.maxPeersPerTask) {
      throw new D7yError('D7Y_RATE_LIMITED', `task ${task.id} has ${task.peers.size} peers, the limit of one task`, {
        fix: 'raise scheduler.limits.maxPeersPerTask',
      });
    }
    const peer: PeerRecord = {
      id: peerId, taskId: task.id, host, state: 'pending', finishedPieces: new Set(), pieceCostsMs: [],
      blockedParents: new Map(), offeredParents: new Set(), failedRounds: 0, disableBackToSource: download.disableBackToSource,
      needBackToSource: download.needBackToSource, createdAt: now, updatedAt: now,
    };
    task.peers.add(peer);
    task.graph.addVertex(peerId);
    host.peers.add(`${task.id}/${peerId}`);
    task.updatedAt = now;
    return peer;
  }

  deletePeer(task: TaskRecord, peer: PeerRecord): void {
    if (task.peers.get(peer.id) !== peer) return;
    task.peers.delete(peer.id);
    task.available.delete(peer.id);
    task.backToSource.delete(peer.id);
    task.waiting.delete(peer.id);
    task.graph.deleteVertex(peer.id);
    peer.host.peers.delete(`${task.id}/${peer.id}`);
    this.onPeerRemoved(peer);
  }

  /** Removes the task and its peers; returns the number of peers removed. */
  deleteTask(taskId: string): number {
    const task = this.tasks.get(taskId);
    if (!task) return 0;
    const peers = [...task.peers.values()];
    for (const p of peers) this.deletePeer(task, p);
    this.tasks.delete(taskId);
    return peers.length;
  }

  setState(task: TaskRecord, peer: PeerRecord, state: PeerState, now: number): void {
    peer.state = state;
    peer.updatedAt = now;
    task.updatedAt = now;
    if (state === 'back-to-source' && peer.host.type !== 'super') task.backToSource.add(peer.id);
    if (state !== 'back-to-source') task.backToSource.delete(peer.id);
    if (state === 'succeeded') task.state = 'succeeded';
    else if (state === 'running' || state === 'back-to-source') {
      if (task.state !== 'succeeded') task.state = 'running';
    }
    if (state === 'failed' || state === 'leave') {
      task.graph.deleteInEdges(peer.id);
      task.waiting.delete(peer.id);
    }
    this.refresh(task, peer);
  }

  /** Records a piece the peer now holds; `parentId`/`costMs` credit the parent that served it. */
  pieceFinished(task: TaskRecord, peer: PeerRecord, number: number, parentId: string | undefined, costMs: number, now: number): void {
    const known = task.pieceCount === 0 || number < task.pieceCount;
    if (known && peer.finishedPieces.size < MAX_PIECES_PER_PEER) peer.finishedPieces.add(number);
    peer.updatedAt = now;
    task.updatedAt = now;
    if (peer.state === 'received-normal' || peer.state === 'pending') peer.state = 'running';
    if (parentId) {
      const parent = task.peers.get(parentId);
      if (parent) {
        parent.pieceCostsMs.push(costMs);
        if (parent.pieceCostsMs.length > PIECE_COST_WINDOW) parent.pieceCostsMs.shift();
        parent.host.uploadSuccessCount++;
      }
    }
    this.refresh(task, peer);
  }

  pieceFailed(task: TaskRecord, peer: PeerRecord, parentId: string, now: number): void {
    peer.updatedAt = now;
    this.block(task, peer, parentId);
    const parent = task.peers.get(parentId);
    if (parent) parent.host.uploadFailedCount++;
  }

  /**
   * Offers `parentId` to `peer` no more until it holds more pieces than now (isBlockedFor); bounded,
   * the oldest block is dropped beyond the cap.
   */
  block(task: TaskRecord, peer: PeerRecord, parentId: string): void {
    if (peer.blockedParents.size >= MAX_BLOCKED_PARENTS && !peer.blockedParents.has(parentId)) {
      const oldest = peer.blockedParents.keys().next().value;
      if (oldest !== undefined) peer.blockedParents.delete(oldest);
    }
    peer.blockedParents.set(parentId, task.peers.get(parentId)?.finishedPieces.size ?? 0);
  }

  /**
   * Never offers the host's peers as parents of the task again (it served a corrupt piece); false
   * when it was blocked already. Bounded like blocked parents.
   */
  blockHost(task: TaskRecord, hostId: string): boolean {
    const blocked = task.trust.blockedHosts;
    if (blocked.has(hostId)) return false;
    if (blocked.size >= MAX_BLOCKED_PARENTS) blocked.delete(blocked.values().next().value!);
    blocked.add(hostId);
    for (const p of task.peers.values()) if (p.host.id === hostId) task.available.delete(p.id);
    return true;
  }

  /** Removes peers, tasks and hosts past their TTLs, and tasks left without peers. */
  collect(now: number, ttls: GcTtls): GcResult {
    const result: GcResult = { peers: 0, tasks: 0, hosts: 0 };
    for (const host of [...this.hosts.values()]) {
      if (now - host.announcedAt > host.ttl) {
        result.peers += this.deleteHost(host.id);
        result.hosts++;
      }
    }
    for (const task of [...this.tasks.values()]) {
      if (now - task.updatedAt > ttls.taskTtl) {
        result.peers += this.deleteTask(task.id);
        result.tasks++;
        continue;
      }
      for (const peer of [...task.peers.values()]) {
        if (now - peer.updatedAt > ttls.peerTtl) {
          this.deletePeer(task, peer);
          result.peers++;
        }
      }
      if (task.peers.size === 0) {
        this.tasks.delete(task.id);
        result.tasks++;
      }
    }
    return result;
  }

  private refresh(task: TaskRecord, peer: PeerRecord): void {
    if (isAvailable(peer) && !task.trust.blockedHosts.has(peer.host.id)) task.available.add(peer);
    else task.available.delete(peer.id);
  }
}
