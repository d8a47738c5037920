import type { Host, Peer, Task } from '../../protocol/rpc/gen/common.js';
import { HostType } from '../../protocol/rpc/gen/common.js';
import type { HostRecord, PeerRecord, TaskRecord } from './resource/records.js';
import { hasServingPeer } from './resource/records.js';

export function hostMessage(h: HostRecord): Host {
  return {
    id: h.id, ip: h.ip, hostname: h.hostname, type: h.type === 'super' ? HostType.HOST_TYPE_SUPER : HostType.HOST_TYPE_NORMAL,
    idc: h.idc ?? '', location: h.location ?? '', uploadPort: h.uploadPort, rpcPort: h.rpcPort,
    maxTxBps: h.maxUploadBps, txBps60s: h.uploadBpsLast60s, concurrentUploads: h.concurrentUploads,
    uploadLimit: h.uploadLimit, uploadSuccessCount: h.uploadSuccessCount, uploadFailedCount: h.uploadFailedCount,
    announcedAt: h.announcedAt,
  };
}

export function peerMessage(p: PeerRecord): Peer {
  return {
    id: p.id, state: p.state, taskId: p.taskId, host: hostMessage(p.host), finishedPieceCount: p.finishedPieces.size,
    needBackToSource: p.needBackToSource, createdAt: p.createdAt, updatedAt: p.updatedAt,
  };
}

export function taskMessage(t: TaskRecord): Task {
  return {
    id: t.id, url: t.download.url, tag: t.download.tag, application: t.download.application, digest: t.download.digest,
    state: t.state, contentLength: t.contentLength, pieceLength: t.pieceLength, pieceCount: t.pieceCount,
    peerCount: t.peers.size, hasAvailablePeer: hasServingPeer(t), createdAt: t.createdAt, updatedAt: t.updatedAt,
  };
}
