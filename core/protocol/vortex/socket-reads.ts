import { connect } from 'node:net';
import type { NetConnectOpts, Socket } from 'node:net';

/**
 * Takes the bytes of one read. The chunk is a view of a read buffer shared by many sockets and is
 * valid only during the call; return false to pause the socket (resume it with `socket.resume()`).
 */
export type ReadHandler = (chunk: Buffer) => boolean | void;

const handlers = new WeakMap<Socket, ReadHandler>();

/**
 * Connects a socket whose reads land in `buffer` (no allocation per read) and go to the handler set
 * with `onReads`. Bytes arriving while no handler is set are unsolicited: the socket is destroyed.
 */
export function connectReusingBuffer(opts: NetConnectOpts, buffer: Buffer): Socket {
  const socket: Socket = connect({
    ...opts,
    onread: {
      buffer,
      callback: (nread: number, buf: Uint8Array): boolean => {
        const handler = handlers.get(socket);
        if (!handler) {
          socket.destroy();
          return false;
        }
        return handler((buf as Buffer).subarray(0, nread)) !== false;
      },
    },
  });
  return socket;
}

/** Routes the socket's reads to `handler` (undefined: none expected). */
export function onReads(socket: Socket, handler: ReadHandler | undefined): void {
  if (handler) handlers.set(socket, handler);
  else handlers.delete(socket);
}
