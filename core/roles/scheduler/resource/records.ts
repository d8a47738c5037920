import type { D7yErrorCode } from '../../../errors/d7y-error.js';
import type { HostProfile } from '../../../contracts/evaluator.js';
import type { Download } from '../../../protocol/rpc/gen/common.js';
import { IndexedSet } from './indexed-set.js';
import { PeerGraph } from './peer-graph.js';

export const PEER_STATES = ['pending', 'received-normal', 'running', 'back-to-source', 'succeeded', 'failed', 'leave'] as const;
export type PeerState = (typeof PEER_STATES)[number];

export type TaskState = 'pending' | 'running' | 'succeeded' | 'failed';

/** Finished piece numbers kept per peer, and blocked parents per peer. */
export const MAX_PIECES_PER_PEER = 1_000_000;
export const MAX_BLOCKED_PARENTS = 10_000;

/** Piece costs kept per parent for the bad-parent test. */
export const PIECE_COST_WINDOW = 2000;

/** A host as the scheduler keeps it: the evaluator's profile plus addresses and bookkeeping. */
export interface HostRecord extends HostProfile {
  uploadPort: number;
  rpcPort: number;
  announcedAt: number;
  /** Milliseconds without announce before GC removes the host. */
  ttl: number;
  /** Peer ids on this host, across tasks, as `taskId/peerId`. */
  peers: Set<string>;
  /** sha256 of the identity that announced the host; another identity may not announce or act for it. */
  owner?: string;
  /** The key of control calls to the host (DownloadTask, StatTask, DeleteTask), derived from that identity. */
  controlKey?: Buffer;
}

/** The scheduler's reply channel to one peer's AnnouncePeer stream. */
export interface PeerChannel {
  normalTask(parents: PeerRecord[]): void;
  needBackToSource(description: string): void;
  /** Trusted digests of pieces of the task (`blake3:`/`sha256:`), to check parents' bytes against. */
  pieceDigests(pieces: { number: number; digest: string }[]): void;
  /** Ends the stream with an error status. */
  fail(code: D7yErrorCode, message: string, fix?: string): void;
}

export interface PeerRecord {
  id: string;
  taskId: string;
  host: HostRecord;
  state: PeerState;
  finishedPieces: Set<number>;
  /** Costs (ms) of the pieces this peer served as a parent, oldest first. */
  pieceCostsMs: number[];
  /**
   * Parents that failed this peer, with the number of pieces each held then: one is not given to
   * this peer again until it holds more (see isBlockedFor).
   */
  blockedParents: Map<string, number>;
  /** Parents offered to this peer in earlier rounds (it keeps them): later rounds offer others first. */
  offeredParents: Set<string>;
  /** Rounds that found no parent since the last successful one. */
  failedRounds: number;
  disableBackToSource: boolean;
  needBackToSource: boolean;
  /** Why it went to the origin: the scheduler's reason, or the one the peer gave when it went on its own. */
  backToSourceReason?: string;
  createdAt: number;
  updatedAt: number;
  channel?: PeerChannel;
  retryTimer?: NodeJS.Timeout;
}

export interface TaskRecord {
  id: string;
  download: Download;
  state: TaskState;
  contentLength: number;
  pieceLength: number;
  pieceCount: number;
  createdAt: number;
  updatedAt: number;
  peers: IndexedSet<PeerRecord>;
  /** Peers that may serve as parents (pieces, or a download under way that will have them). */
  available: IndexedSet<PeerRecord>;
  /** Normal peers told to go back to the source and not yet done. */
  backToSource: Set<string>;
  /** Peers waiting for parents. */
  waiting: Set<string>;
  graph: PeerGraph;
  seed: 'none' | 'triggered' | 'failed';
  trust: TaskTrust;
}

/**
 * What a task's children may trust: each piece's digest as a peer that read the origin reported
 * it (a seed peer's replaces a normal peer's), and the hosts blocked for serving corrupt pieces.
 */
export interface TaskTrust {
  digests: Map<number, { digest: string; hostId: string }>;
  /** Who reported the digests: a seed peer, or (in a cluster without a live seed) a normal peer. */
  from?: 'seed' | 'peer';
  /**
   * Digests normal peers reported from the origin while the task had a live seed: trusted for the
   * pieces still without one if that seed is lost (see PieceTrust.seedLost).
   */
  heldBack?: Map<number, { digest: string; hostId: string }>;
  /** Hosts never offered as parents of the task again. */
  blockedHosts: Set<string>;
}

export function newTask(id: string, download: Download, now: number): TaskRecord {
  return {
    id, download, state: 'pending', contentLength: download.contentLength ?? 0, pieceLength: download.pieceLength ?? 0,
    pieceCount: 0, createdAt: now, updatedAt: now, peers: new IndexedSet(), available: new IndexedSet(),
    backToSource: new Set(), waiting: new Set(), graph: new PeerGraph(), seed: 'none',
    trust: { digests: new Map(), blockedHosts: new Set() },
  };
}

/**
 * Whether the peer can be offered as a parent, by state (per-child filters come later). A peer
 * that was just given its parents counts before it holds a piece: peers that register together
 * then learn of each other in the round that answers them, and can pass on the first pieces as
 * they arrive (cut-through) instead of waiting for a later round to hear of each other.
 */
export function isAvailable(peer: PeerRecord): boolean {
  switch (peer.state) {
    case 'succeeded':
    case 'back-to-source':
    case 'running':
    case 'received-normal':
      return true;
    default:
      return false;
  }
}

/** Whether the task has a peer that holds pieces and can serve them now. */
export function hasServingPeer(task: TaskRecord): boolean {
  for (const p of task.available.values()) {
    if (p.state === 'succeeded' || p.finishedPieces.size > 0) return true;
  }
  return false;
}

/**
 * Whether `parent` must not be given to `child`: it failed the child (a piece it could not serve)
 * and has finished no piece since. A parent that gained pieces since is offered again: a failure
 * while it was itself waiting (say, passing on a piece from a seed that died) says nothing of the
 * pieces it holds now. A parent that failed holding every piece stays blocked.
 */
export function isBlockedFor(child: PeerRecord, parent: PeerRecord): boolean {
  const heldThen = child.blockedParents.get(parent.id);
  return heldThen !== undefined && parent.finishedPieces.size <= heldThen;
}
