import type { ByteRange } from '../../../contracts/source-client.js';
import type { TrafficShare } from '../../../protocol/local-api/download-request.js';
import { pieceSpans } from '../tasks/piece-span.js';
import { TrafficType, type HeldPiece, type TaskState } from '../tasks/task-state.js';

type Kind = 'fromPeers' | 'fromOrigin' | 'fromCache';

/**
 * Where the pieces of one download request came from: pieces the peer held when the request
 * started are the local cache; pieces landing afterwards count by their traffic type. Counted once
 * per piece, never per chunk, so it is cheap to keep beside any download.
 */
export class TrafficSplit {
  private readonly kinds = new Map<number, { kind: Kind; length: number }>();

  constructor(state: TaskState) {
    for (const p of state.pieces.values()) this.kinds.set(p.number, { kind: 'fromCache', length: p.length });
  }

  /** Records a piece that landed during the request (a piece already counted keeps its kind). */
  add(piece: HeldPiece): void {
    if (this.kinds.has(piece.number)) return;
    const kind = piece.trafficType === TrafficType.RemotePeer || piece.trafficType === TrafficType.LocalPeer ? 'fromPeers' : 'fromOrigin';
    this.kinds.set(piece.number, { kind, length: piece.length });
  }

  /** Bytes so far by provenance; with a range and a known length, only the pieces the range touches. */
  share(range?: ByteRange, contentLength?: number, pieceLength?: number): TrafficShare {
    const out: TrafficShare = { fromPeers: 0, fromOrigin: 0, fromCache: 0 };
    if (range && contentLength !== undefined && pieceLength) {
      for (const span of pieceSpans(contentLength, pieceLength, range)) {
        const k = this.kinds.get(span.number);
        if (k) out[k.kind] += span.sub.length;
      }
      return out;
    }
    for (const { kind, length } of this.kinds.values()) out[kind] += length;
    return out;
  }
}
