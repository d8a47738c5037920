import { HostType, type Peer } from '../../../protocol/rpc/gen/common.js';
import type { PieceInfo } from '../../../protocol/rpc/gen/dfdaemon.js';

/** Weight of a parent that reports no bandwidth (10 Gbps, as Dragonfly assumes). */
const DEFAULT_MAX_TX = 1_250_000_000;
/** Piece failures after which a parent is no longer asked. */
export const MAX_PARENT_FAILURES = 3;
/**
 * Pieces a parent may lose mid-body while its piece sync stays open (it was passing them on and
 * lost its own source) before such losses count as its failures.
 */
export const MAX_UPSTREAM_LOSSES = 8;
/**
 * Pieces a parent may answer "not found" for after announcing them, while its piece sync stays
 * open (it lost them while passing them on), before such answers count as its failures.
 */
export const MAX_STALE_ANNOUNCEMENTS = 32;

/** A candidate parent of one download: where to reach it and which pieces it has said it holds. */
export interface Parent {
  id: string;
  hostId: string;
  ip: string;
  uploadPort: number;
  rpcPort: number;
  /** Idle upload bandwidth in bytes/s, at least a tenth of its peak. */
  weight: number;
  /** A seed peer (super host): asked only for pieces no normal parent holds. */
  seed: boolean;
  pieces: Map<number, PieceInfo>;
  inFlight: number;
  failures: number;
  /** Pieces lost mid-body while its piece sync was open (see `lostUpstream`). */
  upstreamLosses: number;
  /** Announced pieces it then said it did not hold (see `lostAnnounced`). */
  staleAnnouncements: number;
  dead: boolean;
  /** Sent a corrupt piece: never asked again by this download, even when offered again. */
  blocked?: boolean;
  /** Aborts the parent's SyncPieces stream. */
  sync?: AbortController;
  /** True while its SyncPieces stream is open. */
  syncing?: boolean;
}

/**
 * The parents a download may fetch pieces from, and the weighted-random choice among those that
 * hold a piece: weight = idle upload bandwidth (max(peak − used, peak/10)) divided by the pieces
 * already in flight from that parent, so load spreads across parents.
 */
export class ParentSet {
  readonly byId = new Map<string, Parent>();

  constructor(private readonly random: () => number = Math.random) {}

  /**
   * Adds a candidate the scheduler sent; undefined when it is known already (and live) or unusable.
   * A parent this download dropped for failures and the scheduler offers again comes back, its
   * failures and announced pieces forgotten (the caller syncs with it anew): the scheduler offers
   * it again only once it holds more pieces than when it failed this peer. One that sent a corrupt
   * piece stays out.
   */
  add(peer: Peer): Parent | undefined {
    const host = peer.host;
    if (!host || !host.uploadPort || !host.rpcPort) return undefined;
    const known = this.byId.get(peer.id);
    const maxTx = host.maxTxBps > 0 ? host.maxTxBps : DEFAULT_MAX_TX;
    const weight = Math.max(maxTx - host.txBps60s, maxTx / 10);
    if (known) {
      known.weight = weight;
      if (!known.dead || known.blocked) return undefined;
      Object.assign(known, { dead: false, failures: 0, upstreamLosses: 0, staleAnnouncements: 0 });
      known.pieces.clear();
      return known;
    }
    const parent: Parent = {
      id: peer.id, hostId: host.id, ip: host.ip, uploadPort: host.uploadPort, rpcPort: host.rpcPort,
      weight, seed: host.type === HostType.HOST_TYPE_SUPER, pieces: new Map(), inFlight: 0, failures: 0, upstreamLosses: 0, staleAnnouncements: 0, dead: false,
    };
    this.byId.set(parent.id, parent);
    return parent;
  }

  live(): Parent[] {
    return [...this.byId.values()].filter((p) => !p.dead);
  }

  /** Ids of parents that failed this download, for a reschedule. */
  deadIds(): string[] {
    return [...this.byId.values()].filter((p) => p.dead).map((p) => p.id);
  }

  /** Marks a failure; a parent past MAX_PARENT_FAILURES is dead. Returns true when it just died. */
  failed(parent: Parent): boolean {
    parent.failures += 1;
    if (parent.dead || parent.failures < MAX_PARENT_FAILURES) return false;
    this.lost(parent);
    return true;
  }

  /**
   * Whether a piece that broke off after its first bytes is the parent's upstream loss, not its
   * failure: a parent passes on pieces it is still receiving (cut-through), and when its own
   * source goes (a seed or parent killed, a link cut) those transfers break too, all at once. With
   * its piece sync still open the parent is alive; the piece is tried elsewhere, and only past
   * MAX_UPSTREAM_LOSSES do such losses count as failures.
   */
  lostUpstream(parent: Parent): boolean {
    if (!parent.syncing) return false;
    parent.upstreamLosses += 1;
    return parent.upstreamLosses <= MAX_UPSTREAM_LOSSES;
  }

  /**
   * Whether a "not found" for piece `n`, which the parent announced, says only that its announcement
   * is stale: a parent passing on a piece it is still receiving drops it when its own source goes,
   * and the piece sync has no message to take an announcement back. With its piece sync open, the
   * piece is forgotten until the parent announces it again, and up to MAX_STALE_ANNOUNCEMENTS such
   * answers are not its failures.
   */
  lostAnnounced(parent: Parent, n: number): boolean {
    if (!parent.syncing || !parent.pieces.has(n)) return false;
    parent.staleAnnouncements += 1;
    if (parent.staleAnnouncements > MAX_STALE_ANNOUNCEMENTS) return false;
    parent.pieces.delete(n);
    return true;
  }

  /** Drops a parent (it cannot be reached, or failed too often); offered again by the scheduler, it comes back (see `add`). */
  lost(parent: Parent): void {
    parent.dead = true;
    parent.sync?.abort();
  }

  /** Drops a parent at once (it sent a corrupt piece): never asked again by this download. */
  block(parent: Parent): void {
    this.lost(parent);
    parent.blocked = true;
  }

  /** Whether a live parent outside `excluded` holds piece `n` (a seed included). */
  holder(n: number, excluded: Set<string>): boolean {
    for (const p of this.byId.values()) if (!p.dead && p.pieces.has(n) && !excluded.has(p.id)) return true;
    return false;
  }

  /**
   * A parent holding piece `n` and not in `excluded` or `busy`, by weighted random choice;
   * undefined if none. Normal parents come first: a seed is asked only when no normal parent
   * holds the piece, busy ones included (a super-seeding seed announces to each child only pieces
   * no other child was offered; a busy holder's children will soon hold it too).
   */
  choose(n: number, excluded?: Set<string>, busy?: { has(parentId: string): boolean }): Parent | undefined {
    let total = 0;
    let options: [Parent, number][] = [];
    const seeds: [Parent, number][] = [];
    let busyHolder = false;
    for (const p of this.byId.values()) {
      if (p.dead || !p.pieces.has(n) || excluded?.has(p.id)) continue;
      if (busy?.has(p.id)) {
        busyHolder ||= !p.seed;
        continue;
      }
      const w = p.weight / (1 + p.inFlight);
      if (p.seed) {
        seeds.push([p, w]);
        continue;
      }
      options.push([p, w]);
      total += w;
    }
    if (options.length === 0) {
      if (busyHolder) return undefined;
      options = seeds;
      total = seeds.reduce((sum, [, w]) => sum + w, 0);
    }
    if (options.length === 0) return undefined;
    let x = this.random() * total;
    for (const [p, w] of options) {
      x -= w;
      if (x <= 0) return p;
    }
    return options[options.length - 1]![0];
  }

  /** Cancels every piece sync stream. */
  close(): void {
    for (const p of this.byId.values()) p.sync?.abort();
  }
}
