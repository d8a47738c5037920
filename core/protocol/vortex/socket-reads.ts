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
 * Where a socket's next read may land instead of the shared read buffer: `target()` gives the
 * memory (valid until that read, undefined: the shared buffer), and `landed(n)` hears that the
 * read put `n` bytes at its start; return false to pause the socket as a ReadHandler does.
 */
export interface DirectReads {
  target(): Buffer | undefined;
  landed(bytes: number): boolean | void;
}

const directs = new WeakMap<Socket, DirectReads>();

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
  // The memory the next read lands in: a DirectReads target when its owner gives one, else `buffer`.
  let direct: Buffer | undefined;
  // Asked first while `connect` creates the socket, before it is assigned.
  let socket: Socket | undefined = undefined;
  const next = (): Buffer => {
    direct = socket && directs.get(socket)?.target();
    return direct ?? buffer;
  };
  socket = connect({
    ...opts,
    onread: {
      buffer: next,
      callback: (nread: number, buf: Uint8Array): boolean => {
        const s = socket as Socket;
        if (direct !== undefined && buf === direct) {
          const to = directs.get(s);
          if (to) return to.landed(nread) !== false;
        }
        const handler = handlers.get(s);
        if (!handler) {
          s.destroy();
          return false;
        }
        return handler((buf as Buffer).subarray(0, nread)) !== false;
      },
    },
  });
  return socket;
}

/**
 * Lets the socket's reads land where `to` says (undefined: back to the shared buffer). The memory of
 * a read is chosen once the read before it was handled (or when the socket connects), so what
 * `to.target()` gave must stay valid until that read lands or the socket is destroyed. A socket
 * made by `connectTlsReads` ignores it.
 */
export function onDirectReads(socket: Socket, to: DirectReads | undefined): void {
  if (to) directs.set(socket, to);
  else directs.delete(socket);
}

/** Routes the socket's reads to `handler` (undefined: none expected). */
export function onReads(socket: Socket, handler: ReadHandler | undefined): void {
  if (handler) handlers.set(socket, handler);
  else handlers.delete(socket);
}
