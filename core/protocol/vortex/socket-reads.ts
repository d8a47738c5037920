import { connect, isIP } from 'node:net';
import type { NetConnectOpts, Socket, TcpNetConnectOpts } from 'node:net';
import { connect as connectTls } from 'node:tls';
import type { NodeTls } from '../tls/node-tls.js';

/**
 * Takes the bytes of one read. The chunk is a view of a read buffer shared by many sockets and is
 * valid only during the call; return false to pause the socket (resume it with `socket.resume()`).
 */
export type ReadHandler = (chunk: Buffer) => boolean | void;

const handlers = new WeakMap<Socket, ReadHandler>();

/**
 * A TLS connection (see NodeTls) whose decrypted reads go to the handler set with `onReads` (each
 * chunk a buffer of its own; TLS has no reads into a caller's buffer). It is ready on
 * `secureConnect`. Bytes arriving while no handler is set are unsolicited: the socket is destroyed.
 */
export function connectTlsReads(opts: TcpNetConnectOpts, tls: NodeTls): Socket {
  const socket = connectTls({ ...opts, ...tls.clientOptions(), ...(isIP(opts.host ?? '') ? {} : { servername: opts.host }) });
  socket.on('data', (chunk: Buffer) => {
    const handler = handlers.get(socket);
    if (!handler) socket.destroy();
    else if (handler(chunk) === false) socket.pause();
  });
  return socket;
}

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
