import type { Socket } from 'node:net';
import { onReads } from './socket-reads.js';

interface Entry {
  socket: Socket;
  release: () => void;
}

/**
 * Idle Vortex connections by address, at most `maxIdlePerAddress` each. A pooled socket is
 * unref'd, closes after `idleTimeoutMs`, and is dropped if it closes or receives anything (its
 * reads come through `onReads`)
 * while idle. A socket is either in the pool or owned by exactly one request, never both.
 */
export class VortexConnectionPool {
  private readonly idle = new Map<string, Entry[]>();
  private closed = false;

  constructor(private readonly maxIdlePerAddress: number, private readonly idleTimeoutMs: number) {}

  /** Idle connections held right now, over all addresses. */
  get size(): number {
    let n = 0;
    for (const list of this.idle.values()) n += list.length;
    return n;
  }

  /** The most recently used idle connection to `key`, removed from the pool, or undefined. */
  take(key: string): Socket | undefined {
    const list = this.idle.get(key);
    while (list && list.length > 0) {
      const entry = list.pop() as Entry;
      entry.release();
      if (!entry.socket.destroyed && entry.socket.readable && entry.socket.writable) {
        if (list.length === 0) this.idle.delete(key);
        entry.socket.ref();
        return entry.socket;
      }
      entry.socket.destroy();
    }
    this.idle.delete(key);
    return undefined;
  }

  /** Hands a connection back; destroys it when the pool is full, closed, or the socket is unusable. */
  put(key: string, socket: Socket): void {
    const list = this.idle.get(key) ?? [];
    if (this.closed || list.length >= this.maxIdlePerAddress || socket.destroyed || !socket.writable) {
      socket.destroy();
      return;
    }
    const drop = (): void => {
      const current = this.idle.get(key);
      const at = current ? current.findIndex((e) => e.socket === socket) : -1;
      if (current && at >= 0) {
        current[at].release();
        current.splice(at, 1);
        if (current.length === 0) this.idle.delete(key);
      }
      socket.destroy();
    };
    onReads(socket, () => {
      drop();
      return false;
    });
    socket.on('close', drop);
    socket.on('timeout', drop);
    socket.setTimeout(this.idleTimeoutMs);
    socket.unref();
    socket.resume();
    const release = (): void => {
      onReads(socket, undefined);
      socket.off('close', drop);
      socket.off('timeout', drop);
      socket.setTimeout(0);
    };
    list.push({ socket, release });
    this.idle.set(key, list);
  }

  /** Destroys every idle connection; later `put`s destroy what they are given. */
  close(): void {
    this.closed = true;
    for (const list of this.idle.values()) {
      for (const entry of list) {
        entry.release();
        entry.socket.destroy();
      }
    }
    this.idle.clear();
  }
}
